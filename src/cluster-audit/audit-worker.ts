// The background audit's own thread: its watched caches (caches.ts), a replica of the webhook's
// snapshot store fed by the main thread's changes, and the audit loop (background.ts), so the audit's
// CPU and garbage collection stay off the event loop that answers /mutate. Each report goes to the
// main thread, whose consumers (gauges, report writer) take it there. Its requests carry credentials
// the main thread applies (carried-credentials.ts), so this thread does not load client-node.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AUDIT_NICE, lowerThreadPriority } from '../server/thread-priority.js';
import { pino } from 'pino';
import { escapeLineSeparators } from '../client-text.js';
import { remoteCredentials, type CarriedOptions } from '../cluster/carried-credentials.js';
import type { ApiCredentials } from '../cluster/list-pages.js';
import type { ResourceState } from '../cluster/reader.js';
import { resourceName } from '../cluster/resources.js';
import { ClusterStore, type SnapshotKind, type StoreChange } from '../cluster/snapshot.js';
import type { Policy } from '../policy/types.js';
import { startBackgroundAudit, type AuditRun } from './background.js';
import { AuditCaches } from './caches.js';
import type { AuditReport } from './run.js';

/** `workerData.role` that makes this module the audit worker (./audit-thread.ts starts it). */
export const AUDIT_WORKER = 'meshguard-audit';

export interface AuditWorkerSetup {
  role: typeof AUDIT_WORKER;
  policy: Policy;
  /** --kubeconfig; absent: in-cluster or KUBECONFIG, as the main thread resolved it. */
  kubeconfig?: string;
  /**
   * The API server, when the main thread applies the credentials (carried-credentials.ts canCarry);
   * absent (a proxy), this thread loads the kubeconfig itself.
   */
  server?: string;
  intervalMs: number;
  sliceMs?: number;
  logLevel: string;
}

export type ToAuditWorker =
  | { type: 'changes'; changes: StoreChange[] }
  | { type: 'state'; kind: SnapshotKind; state: ResourceState }
  | { type: 'credentials'; id: number; options?: CarriedOptions; error?: string }
  | { type: 'stop' };

export type FromAuditWorker =
  | { type: 'cache'; kind: string; state: ResourceState; objects: number }
  | { type: 'report'; report: AuditReport; run: AuditRun }
  | { type: 'credentials'; id: number }
  | { type: 'stopped' };

if (!isMainThread && parentPort && (workerData as AuditWorkerSetup | undefined)?.role === AUDIT_WORKER) {
  const port = parentPort;
  const setup = workerData as AuditWorkerSetup;
  // A background job with no deadline: admission requests on the main thread (and the validation
  // workers) go first whenever the pod's CPU is contended.
  lowerThreadPriority(AUDIT_NICE);
  const post = (m: FromAuditWorker) => port.postMessage(m);
  const log = pino({ level: setup.logLevel, hooks: { streamWrite: escapeLineSeparators } });
  // Credentials asked of the main thread, by request id.
  const asked = new Map<number, { resolve: (o: CarriedOptions) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const kc: ApiCredentials | undefined = setup.server
    ? remoteCredentials(setup.server, () => new Promise((resolve, reject) => {
        const id = nextId++;
        asked.set(id, { resolve, reject });
        post({ type: 'credentials', id });
      }))
    : (await import('../cluster/kubeconfig.js')).kubeConfig(setup.kubeconfig);
  if (!kc) throw new Error('the audit worker found no kubeconfig');
  const store = new ClusterStore();
  const snapshotStates = new Map<SnapshotKind, ResourceState>();
  const caches = new AuditCaches({
    kc,
    log,
    policy: setup.policy,
    store,
    snapshotState: (kind) => snapshotStates.get(kind) ?? 'pending',
    onState: (r, state, objects) => post({ type: 'cache', kind: resourceName(r), state, objects }),
  });
  caches.start();
  const audit = startBackgroundAudit({
    intervalMs: setup.intervalMs,
    read: () => caches.read(),
    synced: () => caches.synced(),
    policy: setup.policy,
    log,
    sliceMs: setup.sliceMs,
    onReport: [(report, run) => post({ type: 'report', report, run })],
  });
  port.on('message', (m: ToAuditWorker) => {
    if (m.type === 'changes') for (const change of m.changes) store.apply(change);
    else if (m.type === 'state') snapshotStates.set(m.kind, m.state);
    else if (m.type === 'credentials') {
      const waiting = asked.get(m.id);
      asked.delete(m.id);
      if (m.options) waiting?.resolve(m.options);
      else waiting?.reject(new Error(m.error ?? 'no credentials'));
    }
    else
      void audit.stop().then(() => {
        caches.stop();
        log.flush();
        post({ type: 'stopped' });
      });
  });
}
