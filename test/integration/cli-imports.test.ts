import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';

// `meshguard check` runs once per pre-commit hook or CI step, so it must not load the server stack.
// This runs the built CLI with a module hook (node:module registerHooks, which sees import and
// require alike) that records every module loaded, and looks at the list.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'meshguard-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RECORDER = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
process.on('exit', () => writeFileSync(process.env.MESHGUARD_IMPORTS_OUT, seen.join('\\n')));
`;

/** The modules a CLI run loaded (file URLs and node: builtins). */
function modulesLoadedBy(args: string[]): { status: number | null; modules: string[] } {
  const out = join(dir, `modules-${args.join('-').replace(/[^\w.-]/g, '_')}.txt`);
  const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(RECORDER)}`, CLI, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, MESHGUARD_IMPORTS_OUT: out },
  });
  return { status: run.status, modules: readFileSync(out, 'utf8').split('\n') };
}

const SERVER_STACK = /\/dist\/server\/|\/node_modules\/(@kubernetes\/client-node|fastify|pino|prom-client|selfsigned|close-with-grace)\//;

describe('what each command loads', () => {
  it('check loads the decision core and none of the server stack', () => {
    const { status, modules } = modulesLoadedBy(['check', 'examples/cluster']);
    expect(status).toBe(0);
    expect(modules.some((m) => m.endsWith('/dist/check/command.js'))).toBe(true);
    expect(modules.some((m) => m.endsWith('/dist/validate/index.js'))).toBe(true);
    expect(modules.filter((m) => SERVER_STACK.test(m))).toEqual([]);
  });

  it('audit loads neither the server nor pino, prom-client or Fastify; client-node only for a live read', () => {
    const files = modulesLoadedBy(['audit', '--cluster-state', 'examples/cluster']);
    expect(files.status).toBe(0);
    expect(files.modules.some((m) => m.endsWith('/dist/cluster-audit/command.js'))).toBe(true);
    expect(files.modules.filter((m) => SERVER_STACK.test(m))).toEqual([]);
    const live = modulesLoadedBy(['audit', '--kubeconfig', join(dir, 'no-such-kubeconfig')]);
    expect(live.status).toBe(2);
    expect(live.modules.some((m) => m.includes('/node_modules/@kubernetes/client-node/'))).toBe(true);
    expect(live.modules.filter((m) => SERVER_STACK.test(m) && !m.includes('/@kubernetes/client-node/'))).toEqual([]);
  });

  it('certs, by contrast, loads server/tls.js (the recorder sees server modules when they load)', () => {
    const { status, modules } = modulesLoadedBy(['certs', '--out', join(dir, 'certs')]);
    expect(status).toBe(0);
    expect(modules.filter((m) => SERVER_STACK.test(m)).some((m) => m.endsWith('/dist/server/tls.js'))).toBe(true);
  });

  it("the background audit's worker thread loads no client-node of its own: its requests carry the main thread's credentials", async () => {
    // The worker module's imports as a worker thread resolves them (src/, .js mapped to .ts as
    // server/worker-thread.ts does); without its workerData the module loads and starts nothing.
    const worker = join(REPO, 'src', 'cluster-audit', 'audit-worker.ts');
    const code = `
const { registerHooks } = require('node:module');
const { parentPort } = require('node:worker_threads');
const seen = [];
registerHooks({
  resolve(specifier, context, next) {
    let r;
    try { r = next(specifier, context); } catch (err) {
      if (!(specifier.endsWith('.js') && context.parentURL?.endsWith('.ts'))) throw err;
      r = next(specifier.slice(0, -3) + '.ts', context);
    }
    seen.push(r.url);
    return r;
  },
});
import(${JSON.stringify(pathToFileURL(worker).href)}).then(() => parentPort.postMessage(seen), (err) => parentPort.postMessage(String(err)));`;
    const thread = new Worker(code, { eval: true });
    const seen = await new Promise<string[] | string>((resolve) => thread.once('message', resolve));
    await thread.terminate();
    if (!Array.isArray(seen)) throw new Error(`the worker module did not load: ${seen}`);
    expect(seen.some((m) => m.endsWith('/src/cluster/carried-credentials.ts'))).toBe(true);
    expect(seen.some((m) => m.endsWith('/src/cluster-audit/caches.ts'))).toBe(true);
    expect(seen.filter((m) => m.includes('/@kubernetes/client-node/'))).toEqual([]);
  });
});
