import { registerHooks } from 'node:module';
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
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
 * Every request's latency below saturation, with microsecond resolution (autocannon rounds
 * percentiles to whole milliseconds): `connections` keep-alive clients each sending one request at a
 * time for `duration` s. Each sample is `{ at, ms }`: when it was sent (Unix ms) and how long it took.
 */
export async function latencySamples({ url, body, connections, duration }) {
  const { hostname, port, pathname } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const samples = [];
  const deadline = performance.now() + duration * 1000;
  const one = () =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request({ hostname, port, path: pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve({ at: performance.timeOrigin + started, ms: performance.now() - started }) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
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
  return samples;
}

/** p50 and p99 (ms, to the microsecond) of latencies in ms. */
export function percentiles(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000) / 1000;
  return { p50: at(0.5), p99: at(0.99), requests: sorted.length };
}

/** Latency below saturation (latencySamples), as p50 and p99. */
export async function latency(o) {
  return percentiles((await latencySamples(o)).map((s) => s.ms));
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

/** The resource of each kind the benches create; Namespace and GatewayClass are cluster-scoped. */
const PLURALS = { Namespace: 'namespaces', GatewayClass: 'gatewayclasses', Service: 'services', Pod: 'pods', Gateway: 'gateways', ServiceEntry: 'serviceentries', AuthorizationPolicy: 'authorizationpolicies' };
const CLUSTER_SCOPED = new Set(['Namespace', 'GatewayClass']);

function collection(o) {
  const plural = PLURALS[o.kind];
  if (!plural) throw new Error(`no collection for ${o.kind}`);
  const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
  return CLUSTER_SCOPED.has(o.kind) ? `${base}/${plural}` : `${base}/namespaces/${o.metadata.namespace}/${plural}`;
}

/**
 * POSTs objects to the e2e harness's API server (its ControlPlaneInfo), `concurrency` at a time over
 * kept-alive connections: cluster-scoped objects first, since the others live in or name them.
 */
export async function createObjects(cp, objects, concurrency = 16) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: readFileSync(cp.caFile) });
  const post = (o) =>
    new Promise((ok, fail) => {
      const body = JSON.stringify(o);
      const path = collection(o);
      const req = request({ host: '127.0.0.1', port: cp.apiPort, method: 'POST', path, agent, headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => (res.statusCode === 201 ? ok() : fail(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`))));
      });
      req.on('error', fail);
      req.end(body);
    });
  const first = objects.filter((o) => CLUSTER_SCOPED.has(o.kind));
  for (const batch of [first, objects.filter((o) => !CLUSTER_SCOPED.has(o.kind))]) {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < batch.length) await post(batch[next++]);
    }));
  }
  agent.destroy();
}

/**
 * The cluster the audit benches read: `pods` Pods and `services` Services over `namespaces`
 * namespaces (objects only; nothing runs them). Every tenth namespace is put in ambient by
 * meshguard's own label only, and its pods carry a sidecar: pod-mode-drift, a tenth of the pods.
 */
export function auditClusterObjects({ pods, services, namespaces }) {
  const ns = (i) => `audit-${i}`;
  const drifting = (i) => i % 10 === 0;
  const out = [];
  for (let i = 0; i < namespaces; i++) {
    const labels = drifting(i) ? { 'meshguard.io/default-mode': 'ambient' } : { 'istio.io/dataplane-mode': 'ambient' };
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns(i), labels } });
  }
  for (let s = 0; s < services; s++) {
    const i = s % namespaces;
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${s}`, namespace: ns(i), labels: { app: `app-${s}` } }, spec: { selector: { app: `app-${s}` }, ports: [{ name: 'http', port: 8080 }] } });
  }
  for (let p = 0; p < pods; p++) {
    const i = p % namespaces;
    const deployment = `app-${p % services}`;
    const sidecar = drifting(i);
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${deployment}-7c9f6-${p}`,
        namespace: ns(i),
        labels: { app: deployment, 'pod-template-hash': '7c9f6' },
        ...(sidecar && { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment}-7c9f6`, uid: '00000000-0000-4000-8000-000000000001', controller: true }],
      },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '128Mi' } } }, ...(sidecar ? [{ name: 'istio-proxy', image: 'istio/proxyv2:1.31.0' }] : [])] },
    });
  }
  return out;
}

/** The node flags a checkout's image runs meshguard with (its Dockerfile's ENTRYPOINT). */
export function imageNodeFlags(dir) {
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(dir, 'Dockerfile'), 'utf8'))[1]);
  return entrypoint.slice(1, entrypoint.indexOf('dist/cli.js'));
}

/**
 * Starts `node <nodeFlags> <cli> serve --host 127.0.0.1 --port <free> <args>` with its stdout in
 * `logFile`; resolves once /readyz answers 200, with the time that took (spawn to ready).
 * memory(): VmRSS and VmHWM (the peak, what a memory limit must hold), in MB.
 */
export async function startServe({ cli, nodeFlags = [], args, logFile, port, readyTimeoutMs = 300_000 }) {
  const proc = spawn(process.execPath, [...nodeFlags, cli, 'serve', '--host', '127.0.0.1', '--port', String(port), ...args], { stdio: ['ignore', openSync(logFile, 'w'), 'inherit'] });
  const started = performance.now();
  let exited = false;
  proc.on('exit', () => (exited = true));
  const deadline = Date.now() + readyTimeoutMs;
  while ((await readyz(port)) !== 200) {
    if (exited || Date.now() > deadline) throw new Error(`${cli} serve did not get ready: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
  return {
    port,
    pid: proc.pid,
    readyMs: Math.round(performance.now() - started),
    memory() {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const mb = (field) => Math.round(Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))[1]) / 1024);
      return { rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM') };
    },
    async stop() {
      if (exited) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, sleep(25_000).then(() => proc.kill('SIGKILL'))]);
    },
  };
}

function readyz(port) {
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.on('error', () => ok(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
