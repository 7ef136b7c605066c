// meshguard as a process on loopback, exactly as `meshguard serve` runs in a pod: the built CLI
// (dist/cli.js; `npm run test:e2e` builds it), a serving certificate from `meshguard certs` for the
// run's own CA, and the control plane's kubeconfig for its informers.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type Agent, request } from 'node:https';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { apiCode, clients, eventually, freePort, startProcess, type ControlPlaneInfo, type Proc } from './control-plane.js';
import { installWebhooks, removeWebhooks, type Rendered } from './webhooks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'dist', 'cli.js');

export interface Meshguard {
  port: number;
  metricsPort: number;
  /** Directory with ca.crt, ca.key, tls.crt, tls.key; meshguard serves (and watches) tls.crt/tls.key. */
  certDir: string;
  caPem: string;
  logFile: string;
  /** `https://127.0.0.1:<port>` */
  url: string;
  proc: Proc;
  /** SIGTERM (graceful shutdown) and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same certificate files; waits for /readyz. */
  restart(): Promise<void>;
  /** Writes a new serving certificate, signed by the run CA, over tls.crt and tls.key. */
  rotate(): Promise<void>;
  /** SHA-256 fingerprint of the certificate meshguard presents on a new connection. */
  servingFingerprint(): Promise<string>;
  /** /metrics as text. */
  metrics(): Promise<string>;
  /** The sum of a metric's series whose labels include `labels` (0 when there is none). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

function requireBuilt() {
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first (\`npm run test:e2e\` does).`);
}

export interface StartOptions {
  name?: string;
  /**
   * --shutdown-delay. 0 unless given: the suite stops meshguard after removing its webhooks (or to
   * have it down), so there is nothing to serve on for; rollout.test.ts exercises the delay.
   */
  shutdownDelay?: string;
  /** Serve the certificate files of this directory (as replicas share one Secret) instead of new ones. */
  certDir?: string;
  /** The kubeconfig meshguard's informers use (default: the control plane's). */
  kubeconfig?: string;
  /** --audit-interval; 0 (off) unless given, so the other files' servers watch only what the webhooks need. */
  auditInterval?: string;
  /** --policy: a policy file (default: meshguard's shipped policy). */
  policy?: string;
  /** --reports (none unless given). */
  reports?: string;
}

export async function startMeshguard(cp: ControlPlaneInfo, opts: StartOptions = {}): Promise<Meshguard> {
  requireBuilt();
  const name = opts.name ?? 'meshguard';
  const dir = mkdtempSync(join(cp.dir, `${name}-`));
  const certDir = opts.certDir ?? join(dir, 'certs');
  if (!opts.certDir) {
    const certs = spawnSync(process.execPath, [CLI, 'certs', '--out', certDir, '--dns', 'localhost', '--ip', '127.0.0.1'], { encoding: 'utf8' });
    if (certs.status !== 0) throw new Error(`meshguard certs failed: ${certs.stderr}`);
  }
  const caPem = readFileSync(join(certDir, 'ca.crt'), 'utf8');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const logFile = join(dir, 'meshguard.log');
  const args = [
    CLI,
    'serve',
    '--host', '127.0.0.1',
    '--port', String(port),
    '--metrics-port', String(metricsPort),
    '--tls-cert', join(certDir, 'tls.crt'),
    '--tls-key', join(certDir, 'tls.key'),
    '--kubeconfig', opts.kubeconfig ?? cp.kubeconfig,
    '--shutdown-delay', opts.shutdownDelay ?? '0',
    '--audit-interval', opts.auditInterval ?? '0',
    ...(opts.policy ? ['--policy', opts.policy] : []),
    '--reports', opts.reports ?? 'none',
  ];

  const delay = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(opts.shutdownDelay ?? '0');
  const delayMs = delay ? Number(delay[1]) * (delay[2] === 'ms' ? 1 : 1000) : 0;
  let proc!: Proc;
  const launch = async () => {
    proc = startProcess(name, process.execPath, args, { logFile, cwd: REPO });
    m.proc = proc;
    await eventually(`${name} /readyz`, async () => {
      if (!proc.running()) throw new Error(`${name} exited:\n${proc.tail()}`);
      return (await get(port, '/readyz', caPem)) === 200;
    }, 30_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${name} log ---\n${proc.tail()}`);
    });
  };

  // Graceful (SIGTERM) like a pod's termination; closeWithGrace gives up 20 s after the shutdown
  // delay, and the SIGKILL after 25 s (plus the delay) only backs that up. A slow or failed shutdown
  // is reported, not hidden.
  const stop = async () => {
    const started = Date.now();
    await proc.stop(25_000 + delayMs);
    const code = await proc.exited;
    const ms = Date.now() - started;
    if (ms > delayMs + 5_000 || code !== 0) process.stderr.write(`[e2e] ${name} took ${ms} ms to stop after SIGTERM (exit code ${code})\n`);
  };

  const m: Meshguard = {
    port,
    metricsPort,
    certDir,
    caPem,
    logFile,
    url: `https://127.0.0.1:${port}`,
    proc,
    stop: () => stop(),
    restart: async () => {
      await stop();
      await launch();
    },
    async rotate() {
      // The project's own generator, signing with the run CA (`meshguard certs` always makes a new CA).
      const { generateCertificates } = (await import(pathToFileURL(join(REPO, 'dist', 'server', 'tls.js')).href)) as typeof import('../../src/server/tls.js');
      const ca = { cert: caPem, key: readFileSync(join(certDir, 'ca.key'), 'utf8') };
      const { server } = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
      // Each file is replaced atomically (as a Secret volume does), key first: until the cert follows,
      // meshguard sees a mismatched pair, refuses it and keeps serving the old one.
      for (const [file, pem] of [['tls.key', server.key], ['tls.crt', server.cert]] as const) {
        writeFileSync(join(certDir, `${file}.tmp`), pem, { mode: 0o600 });
        renameSync(join(certDir, `${file}.tmp`), join(certDir, file));
      }
    },
    servingFingerprint: () => peerCertificate(port, caPem).then((c) => c.fingerprint256),
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.text();
    },
    async metric(name, labels = {}) {
      const text = await m.metrics();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const series = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
        if (Object.entries(labels).every(([k, v]) => series[k] === v)) sum += Number(match[3]);
      }
      return sum;
    },
  };
  await launch();
  return m;
}

function get(port: number, path: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function peerCertificate(port: number, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

/** meshguard started and its webhooks (from the chart) installed and in effect; `close` undoes both. */
export async function meshguardWithWebhooks(cp: ControlPlaneInfo, set: Record<string, string> = {}, start: StartOptions = {}) {
  const meshguard = await startMeshguard(cp, start);
  let configs: Rendered[] = [];
  try {
    configs = await installWebhooks(cp, meshguard.url, meshguard.caPem, set);
    await webhooksInEffect(cp);
  } catch (err) {
    // Cluster-wide webhooks pointing at a stopped meshguard would fail the next test files.
    await removeWebhooks(cp, configs).catch(() => undefined);
    await meshguard.stop();
    throw err;
  }
  return {
    meshguard,
    configs,
    async close() {
      await removeWebhooks(cp, configs);
      await meshguard.stop();
    },
  };
}

export const DECISION = 'meshguard.io/decision';
// Test files share one API server: sentinel names must never repeat, within a file or across files.
const runId = Math.random().toString(36).slice(2, 8);
let sentinels = 0;

/**
 * Waits until kube-apiserver calls meshguard's mutating webhook: webhook configurations take effect
 * through kube-apiserver's own informer, a moment after they are applied. A dry-run Pod in a fresh
 * namespace with meshguard.io/default-mode=none comes back labelled `none/namespace-default` only
 * from meshguard (which reads a namespace its cache has not seen yet from the API server).
 */
export async function webhooksInEffect(cp: ControlPlaneInfo, timeoutMs = 30_000) {
  const { core } = clients(cp);
  const name = `e2e-webhooks-${runId}-${++sentinels}`;
  await createNamespace(cp, name, { 'meshguard.io/enforcement': 'enforce', 'meshguard.io/default-mode': 'none' });
  await eventually(`kube-apiserver to call meshguard (namespace ${name})`, async () => {
    const pod = await core.createNamespacedPod({ namespace: name, body: simplePod('probe'), dryRun: 'All' });
    return pod.metadata?.annotations?.[DECISION] === 'none/namespace-default';
  }, timeoutMs, 100);
}

/** Creates a Namespace (replacing nothing: it must not exist yet). */
export async function createNamespace(cp: ControlPlaneInfo, name: string, labels: Record<string, string> = {}) {
  const { core } = clients(cp);
  return core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } });
}

/** Creates a Namespace unless it exists (then leaves it as it is). */
export async function ensureNamespace(cp: ControlPlaneInfo, name: string, labels: Record<string, string> = {}) {
  await createNamespace(cp, name, labels).catch((err) => {
    if (apiCode(err) !== 409) throw err;
  });
}

/** A minimal Pod. Nothing schedules or runs it: admission is all that happens to it. */
export function simplePod(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; hostNetwork?: boolean; ownerKind?: string } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      ...(extra.labels && { labels: extra.labels }),
      ...(extra.annotations && { annotations: extra.annotations }),
      ...(extra.ownerKind && {
        ownerReferences: [
          {
            apiVersion: extra.ownerKind === 'Job' ? 'batch/v1' : 'apps/v1',
            kind: extra.ownerKind,
            name: `${name}-owner`,
            uid: '6d1e4a4e-0000-4000-8000-000000000001',
            controller: true,
          },
        ],
      }),
    },
    spec: {
      ...(extra.hostNetwork && { hostNetwork: true }),
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0.0' }],
    },
  };
}

/**
 * Creates `simplePod(name)` in `namespace` with one raw POST on `agent` (a kept-alive agent, as a
 * controller's client would use) and times it end to end: the latency benchmarks' one measurement.
 */
export function timedPodCreate(cp: ControlPlaneInfo, agent: Agent, namespace: string, name: string): Promise<{ ms: number; status: number; body: any }> {
  const payload = JSON.stringify(simplePod(name));
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(
      {
        host: '127.0.0.1',
        port: cp.apiPort,
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/pods`,
        agent,
        headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json', accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          resolve({ ms, status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
