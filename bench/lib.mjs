import { registerHooks } from 'node:module';
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import autocannon from 'autocannon';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a server process with its stdout going straight to `logFile` (as a container runtime would
 * take it), and resolves once `ready(text)` sees its start-up line there.
 */
export async function startProcess(args, { ready, logFile }) {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', openSync(logFile, 'w'), 'inherit'] });
  let exited = false;
  proc.on('exit', () => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!ready(readFileSync(logFile, 'utf8'))) {
    if (exited || Date.now() > deadline) throw new Error(`${args.join(' ')} did not start: ${readFileSync(logFile, 'utf8')}`);
    await sleep(50);
  }
  return {
    proc,
    async stop() {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, sleep(5000).then(() => proc.kill('SIGKILL'))]);
    },
    async rssMb() {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
    },
  };
}

/** Saturating throughput with autocannon; fails on any error or non-2xx. */
export async function throughput({ url, body, connections, duration }) {
  const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration });
  if (result.errors || result.non2xx || result.timeouts) {
    throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
  }
  return { rps: Math.round(result.requests.average), requests: result.requests.total };
}

/**
 * Latency below saturation with microsecond resolution (autocannon rounds percentiles to whole
 * milliseconds): `connections` keep-alive clients each sending one request at a time for `duration` s.
 */
export async function latency({ url, body, connections, duration }) {
  const { hostname, port, pathname } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const samples = [];
  const deadline = performance.now() + duration * 1000;
  const one = () =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request({ hostname, port, path: pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) samples.push(await one());
    }),
  );
  agent.destroy();
  samples.sort((a, b) => a - b);
  const at = (q) => Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] * 1000) / 1000;
  return { p50: at(0.5), p99: at(0.99), requests: samples.length };
}

export const ratio = (a, b) => Math.round((a / b) * 100) / 100;

/**
 * The e2e harness (test/e2e/control-plane.ts), for benches that need a real kube-apiserver. It is
 * TypeScript run by Node's type stripping, which does not map its `./x.js` imports to the `./x.ts`
 * files next to them: the resolve hook registered here (once) does.
 */
let hooked = false;
export async function e2eHarness() {
  if (!hooked) {
    registerHooks({
      resolve(specifier, context, next) {
        try {
          return next(specifier, context);
        } catch (err) {
          if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return next(`${specifier.slice(0, -3)}.ts`, context);
          throw err;
        }
      },
    });
    hooked = true;
  }
  return import('../test/e2e/control-plane.ts');
}
