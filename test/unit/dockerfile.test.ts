import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The Dockerfile cannot be built here (no Docker engine). These are a few direct checks that would
// catch a real mistake in it; the base image is free to change.

const root = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const DOCKERFILE = readFileSync(root('Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
  engines: { node: string };
};

// Instructions with `\` continuations joined and comment lines dropped.
const instructions = DOCKERFILE.replace(/^\s*#.*\n/gm, '')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const stageStarts = instructions.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
const runtime = instructions.slice(stageStarts.at(-1));

describe('Dockerfile', () => {
  it('builds in one stage and runs from another', () => {
    expect(stageStarts.length).toBeGreaterThanOrEqual(2);
  });

  it('runs as a non-root numeric user (runAsNonRoot cannot check a user name)', () => {
    const user = runtime.filter((l) => /^USER\s/i.test(l)).at(-1);
    expect(user).toMatch(/^USER\s+[1-9]\d*(:\d+)?$/);
  });

  it('has no compiler, npm install or dev dependency in the runtime stage', () => {
    const text = runtime.join('\n');
    expect(text).not.toMatch(/\b(g\+\+|gcc|make|python3|build-essential)\b/);
    expect(text).not.toMatch(/\bnpm (ci|install|i)\b/);
    for (const dep of Object.keys(pkg.devDependencies)) expect(text).not.toContain(dep);
    // node_modules comes from a build stage that pruned dev dependencies after building.
    expect(text).toMatch(/COPY --from=\S+ \S*node_modules/);
    expect(instructions.join('\n')).toMatch(/npm run build[^\n]*npm prune --omit=dev/);
  });

  it('uses npm ci, so the image gets exactly the locked dependencies', () => {
    expect(instructions.some((l) => /^RUN\b.*\bnpm ci\b/.test(l))).toBe(true);
  });

  it('runs meshguard serve in exec form (signals reach node, not a shell)', () => {
    // node flags may come before the script (the image's V8 heap sizing).
    expect(runtime.filter((l) => /^ENTRYPOINT \["node", ("--[\w-]+=\w+", )*"dist\/cli\.js"\]$/.test(l))).toHaveLength(1);
    expect(runtime).toContain('CMD ["serve"]');
  });

  it('uses a Node.js base image that satisfies engines', () => {
    const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    for (const i of stageStarts) {
      const major = /node:(\d+)/.exec(instructions[i])?.[1];
      if (major) expect(Number(major)).toBeGreaterThanOrEqual(minimum);
    }
  });
});

describe('.dockerignore', () => {
  const ignored = readFileSync(root('.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  it.each(['node_modules', 'dist', 'certs', '.git'])('keeps the local %s out of the build context', (path) => {
    expect(ignored).toContain(path);
  });
});
