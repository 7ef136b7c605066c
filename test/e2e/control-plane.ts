// A real etcd + kube-apiserver on loopback for the e2e suite, and the processes it runs.
//
// Used as the e2e project's vitest globalSetup (the default export): one control plane for every
// e2e file, started before the first file and torn down after the last, its coordinates handed to
// the test files with vitest's provide/inject. The Istio and Gateway API CRDs from ./crds are
// installed and Established before any test runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { parseAllDocuments } from 'yaml';
import { e2eBinaries } from './binaries.js';

/** What the test files get (serialisable: it crosses from the main process to the workers). */
export interface ControlPlaneInfo {
  /** The run's temporary directory; logs of every process live in it. */
  dir: string;
  apiUrl: string;
  apiPort: number;
  token: string;
  /** PEM file that verifies kube-apiserver's self-signed serving certificate. */
  caFile: string;
  kubeconfig: string;
  helm: string;
  /** What the running kube-apiserver reports as its version (GET /version, gitVersion). */
  kubernetesVersion: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo;
  }
}

const CRD_DIR = fileURLToPath(new URL('./crds', import.meta.url));
const READY_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------------
// Processes: each in its own process group (spawn detached), killed as a group, and never left
// behind: an exit hook kills whatever is still running, and a watchdog shell kills the group if
// this process dies without running its exit hooks (SIGKILL, OOM).

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  running(): boolean;
  /** SIGTERM to the group, then SIGKILL after `graceMs`. Resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the process's log, for error messages. */
  tail(lines?: number): string;
}

const live = new Set<Proc>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) killGroup(p.pid, 'SIGKILL');
  });
}

export function startProcess(
  name: string,
  bin: string,
  args: string[],
  /** orphanCleanup: a directory the watchdog removes after killing an orphaned process. */
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; orphanCleanup?: string },
): Proc {
  installExitHook();
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env, cwd: opts.cwd });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${bin})`);
  const pid = child.pid;
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      live.delete(proc);
      watchdog.kill('SIGKILL');
      resolve(exitCode);
    });
  });
  // Polls this process (and, in a vitest worker, the vitest process that forked it, as a worker can
  // outlive a killed vitest); once one is gone, kills the child's group. The watchdog has a group of
  // its own, so it survives that kill. (dash's kill takes `-PGID`, not `-- -PGID`.)
  const watched = typeof process.send === 'function' ? [process.pid, process.ppid] : [process.pid];
  const alive = watched.map((p) => `kill -0 ${p} 2>/dev/null`).join(' && ');
  const cleanup = opts.orphanCleanup ? `; sleep 1; rm -rf '${opts.orphanCleanup}'` : '';
  const watchdog = spawn('sh', ['-c', `while ${alive}; do sleep 1; done; kill -KILL -${pid} 2>/dev/null${cleanup}`], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  child.unref();
  const proc: Proc = {
    name,
    pid,
    child,
    logFile: opts.logFile,
    exited,
    running: () => exitCode === undefined,
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Children the process may have left in its group.
      killGroup(pid, 'SIGKILL');
    },
    tail(lines = 40) {
      try {
        return readFileSync(opts.logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
  };
  live.add(proc);
  return proc;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, ms = 30_000, every = 200): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `; last error: ${(last as Error).message ?? last}` : ''}`);
    await sleep(every);
  }
}

// ---------------------------------------------------------------------------------------------
// Raw API access (for the control plane's own bootstrap, before anything else is known).

export interface RawResponse {
  status: number;
  body: any;
  text: string;
  /** Every `Warning` header, one entry each (node would join repeated headers with ", "). */
  warnings: string[];
}

/** One request to kube-apiserver with the admin token, verifying its certificate against `ca`. */
export function apiRequest(
  cp: Pick<ControlPlaneInfo, 'apiPort' | 'token'> & { ca: string },
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port: cp.apiPort,
        method,
        path,
        ca: cp.ca,
        agent: false,
        timeout: 60_000,
        headers: {
          authorization: `Bearer ${cp.token}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': contentType } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // /readyz and friends answer plain text
          }
          const warnings: string[] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            if (res.rawHeaders[i].toLowerCase() === 'warning') warnings.push(decodeWarning(res.rawHeaders[i + 1]));
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, warnings });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `299 - "text"` (RFC 7234 warn-code, agent, quoted text) -> `text`. */
function decodeWarning(header: string): string {
  const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(header);
  return m ? m[1].replace(/\\(.)/g, '$1') : header;
}

// ---------------------------------------------------------------------------------------------
// @kubernetes/client-node against the control plane, as the tests (and meshguard) use it.

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  admission: AdmissionregistrationV1Api;
  objects: KubernetesObjectApi;
  /** A raw request with the admin token (for what the typed clients hide, such as Warning headers). */
  raw: (method: string, path: string, body?: unknown, contentType?: string) => Promise<RawResponse>;
}

export function clients(cp: ControlPlaneInfo): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const ca = readFileSync(cp.caFile, 'utf8');
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
    raw: (method, path, body, contentType) => apiRequest({ ...cp, ca }, method, path, body, contentType),
  };
}

/** The API server's message for a failed client-node call (its Status `message`), else the error's text. */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  let body = e?.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return text;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : (e?.message ?? String(err));
}

/** The HTTP status of a failed client-node call. */
export function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Awaits a call that must fail, and returns the API server's message. */
export async function rejection(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    return apiMessage(err);
  }
  throw new Error('expected the API server to refuse the request, but it was admitted');
}

// ---------------------------------------------------------------------------------------------
// The control plane.

export interface ControlPlane {
  info: ControlPlaneInfo;
  etcd: Proc;
  apiserver: Proc;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** More kube-apiserver flags (a later flag overrides an earlier one). */
  apiserverArgs?: string[];
}

/**
 * etcd + kube-apiserver on loopback with the CRDs of ./crds installed; stop() tears it all down.
 * Starts etcd and kube-apiserver on ports freePort found free a moment before. Something else on the
 * machine may take one in between (a test's listener, or the source port of an outgoing connection),
 * and then etcd or kube-apiserver exits with "address already in use": that start is retried on new
 * ports, twice at most. Any other failure is thrown at once.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt === 3 || !/address already in use/i.test((err as Error).message)) throw err;
      process.stderr.write(`[e2e] a control-plane port was taken before etcd or kube-apiserver bound it; retrying on new ports\n`);
    }
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const bins = await binaries();
  const dir = mkdtempSync(join(tmpdir(), 'meshguard-e2e-'));
  const token = `e2e-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
    // MESHGUARD_E2E_KEEP=1 keeps the logs (etcd, kube-apiserver, meshguard) for a post-mortem.
    if (process.env.MESHGUARD_E2E_KEEP) process.stderr.write(`[e2e] kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    // Webhook calls go from kube-apiserver straight to https://127.0.0.1:<port>: no egress selector
    // is configured, and no proxy may sit in between.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];

    const etcd = startProcess('etcd', bins.etcd, [
      '--name=e2e',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=e2e=http://127.0.0.1:${peerPort}`,
      '--listen-metrics-urls=',
      // A throwaway store: durability costs time and buys nothing here.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], { logFile: join(dir, 'etcd.log'), env, orphanCleanup: process.env.MESHGUARD_E2E_KEEP ? undefined : dir });
    procs.push(etcd);

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'tokens.csv'), `${token},e2e-admin,e2e-admin,"system:masters"\n`, { mode: 0o600 });
    const certDir = join(dir, 'apiserver-certs');
    const apiserver = startProcess('kube-apiserver', bins.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      // Self-signed serving certificate (and its CA) written here: apiserver.crt / apiserver.key.
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      // No controller-manager creates default ServiceAccounts, so pods would be refused without them.
      '--disable-admission-plugins=ServiceAccount',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.key')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // Nothing runs behind the kubernetes Service; don't maintain its endpoints.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(options.apiserverArgs ?? []),
    ], { logFile: join(dir, 'kube-apiserver.log'), env });
    procs.push(apiserver);

    const caFile = join(certDir, 'apiserver.crt');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let ca = '';
    for (;;) {
      const exitedEarly = procs.find((p) => !p.running());
      if (exitedEarly || Date.now() > deadline) {
        throw new Error(
          `kube-apiserver did not become ready${exitedEarly ? ` (${exitedEarly.name} exited)` : ''}\n--- etcd ---\n${etcd.tail()}\n--- kube-apiserver ---\n${apiserver.tail()}`,
        );
      }
      try {
        ca ||= readFileSync(caFile, 'utf8');
        if ((await apiRequest({ apiPort, token, ca }, 'GET', '/readyz')).status === 200) break;
      } catch {
        // not listening yet, or the certificate is not written yet
      }
      await sleep(250);
    }

    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: `https://127.0.0.1:${apiPort}`, 'certificate-authority': caFile } }],
        users: [{ name: 'e2e-admin', user: { token } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'e2e-admin' } }],
        'current-context': 'e2e',
      }),
      { mode: 0o600 },
    );
    const version = await apiRequest({ apiPort, token, ca }, 'GET', '/version');
    if (version.status !== 200 || typeof version.body?.gitVersion !== 'string') throw new Error(`GET /version: ${version.status} ${version.text}`);
    const info: ControlPlaneInfo = {
      dir,
      apiUrl: `https://127.0.0.1:${apiPort}`,
      apiPort,
      token,
      caFile,
      kubeconfig,
      helm: bins.helm,
      kubernetesVersion: version.body.gitVersion,
    };
    await installCrds({ apiPort, token, ca });
    return { info, etcd, apiserver, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The binaries, with two retries: build-binaries.sh's version smoke checks pipe `--version` into
 * `grep -q` under `set -o pipefail`, so a binary that is still writing when grep has matched and
 * exited dies of SIGPIPE and fails the check now and then (seen with etcd). The binaries are cached
 * by then, so a retry costs a fraction of a second.
 */
async function binaries() {
  for (let attempt = 1; ; attempt++) {
    try {
      return await e2eBinaries();
    } catch (err) {
      if (attempt === 3) throw err;
      process.stderr.write(`[e2e] ${(err as Error).message}; retrying\n`);
    }
  }
}

/**
 * Creates every CRD in `dir` (default ./crds) whose file name `files` matches, unless it exists
 * already (another test file installed it), and waits until each is Established (served).
 */
export async function installCrds(api: { apiPort: number; token: string; ca: string }, dir = CRD_DIR, files = /\.yaml$/) {
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && files.test(f))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((o) => o?.kind === 'CustomResourceDefinition');
  for (const crd of crds) {
    const res = await apiRequest(api, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    if (res.status !== 201 && res.status !== 409) throw new Error(`creating CRD ${crd.metadata.name}: ${res.status} ${res.text}`);
  }
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata.name} Established`, async () => {
      const res = await apiRequest(api, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
      return res.body?.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True');
    });
    // Established means the API is being served; make sure every served version answers a list.
    for (const v of crd.spec.versions) {
      const path = `/apis/${crd.spec.group}/${v.name}/${crd.spec.names.plural}`;
      await eventually(`${path} served`, async () => (await apiRequest(api, 'GET', path)).status === 200);
    }
  }
}

/** vitest globalSetup: one control plane for the whole e2e project. */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const cp = await startControlPlane();
  process.stderr.write(`[e2e] control plane ready in ${Date.now() - started} ms at ${cp.info.apiUrl} (logs in ${cp.info.dir})\n`);
  project.provide('controlPlane', cp.info);
  return async () => {
    await cp.stop();
  };
}
