// The main thread's side of the audit worker (./audit-worker.ts): starts it, keeps its replica of
// the snapshot store current (the store's changes and each kind's state), and hands each report it
// sends to the report consumers here, in order, one report at a time.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { canCarry, carriedOptions } from '../cluster/carried-credentials.js';
import type { ResourceState } from '../cluster/reader.js';
import type { ClusterStore, SnapshotKind } from '../cluster/snapshot.js';
import type { Policy } from '../policy/types.js';
import { startWorker } from '../server/worker-thread.js';
import { AUDIT_WORKER, type AuditWorkerSetup, type FromAuditWorker, type ToAuditWorker } from './audit-worker.js';
import type { AuditRun, BackgroundAudit, ReportConsumer } from './background.js';
import type { AuditReport } from './run.js';

/** How long stop() waits for a run in progress (and the worker's caches) before ending the worker. */
const STOP_WAIT_MS = 10_000;

export interface AuditThreadOptions {
  /** The webhook's snapshot store, which the worker replicates, and each of its kinds' state now. */
  store: ClusterStore;
  snapshotStates: ReadonlyMap<SnapshotKind, ResourceState>;
  kubeconfig?: string;
  /** The kubeconfig the main thread loaded from it: the worker's requests carry its credentials. */
  kc: KubeConfig;
  policy: Policy;
  intervalMs: number;
  sliceMs?: number;
  log: Logger;
  /** A watched kind's state or object count changed (the cache gauges). */
  onCache?: (kind: string, state: ResourceState, objects: number) => void;
  onReport?: ReportConsumer[];
}

export interface AuditThread extends BackgroundAudit {
  /** A snapshot kind's state changed (listed, absent): the worker's read errors and sync follow it. */
  snapshotState(kind: SnapshotKind, state: ResourceState): void;
}

export function startAuditThread(o: AuditThreadOptions): AuditThread {
  const setup: AuditWorkerSetup = {
    role: AUDIT_WORKER,
    policy: o.policy,
    kubeconfig: o.kubeconfig,
    server: canCarry(o.kc) ? o.kc.getCurrentCluster()?.server : undefined,
    intervalMs: o.intervalMs,
    sliceMs: o.sliceMs,
    logLevel: o.log.level,
  };
  const worker = startWorker('cluster-audit/audit-worker', { workerData: setup });
  // Like the validation workers: the worker never keeps the process alive; close() stops it.
  worker.unref();
  const post = (m: ToAuditWorker) => worker.postMessage(m);
  const consumers = [...(o.onReport ?? [])];
  let last: { report: AuditReport; run: AuditRun } | undefined;
  let consuming = Promise.resolve();
  let stopped: (() => void) | undefined;
  let exited = false;

  const unsubscribe = o.store.subscribe((change) => post({ type: 'changes', changes: [change] }));
  // The replica starts as the store is now; later changes follow in order on the same port.
  post({ type: 'changes', changes: o.store.changes() });
  for (const [kind, state] of o.snapshotStates) post({ type: 'state', kind, state });

  worker.on('message', (m: FromAuditWorker) => {
    if (m.type === 'cache') o.onCache?.(m.kind, m.state, m.objects);
    else if (m.type === 'credentials')
      carriedOptions(o.kc).then(
        (options) => post({ type: 'credentials', id: m.id, options }),
        (err: Error) => post({ type: 'credentials', id: m.id, error: err.message }),
      );
    else if (m.type === 'stopped') stopped?.();
    else {
      last = { report: m.report, run: m.run };
      consuming = consuming.then(async () => {
        for (const consumer of consumers) {
          try {
            await consumer(m.report, m.run);
          } catch (err) {
            o.log.error({ err: (err as Error).message }, 'audit report consumer failed');
          }
        }
      });
    }
  });
  worker.on('error', (err: Error) => o.log.error({ err: err.message }, 'the background audit worker failed; no more audits until meshguard restarts'));
  worker.on('exit', () => {
    exited = true;
    stopped?.();
  });

  return {
    onReport: (consumer) => void consumers.push(consumer),
    last: () => last,
    snapshotState: (kind, state) => post({ type: 'state', kind, state }),
    async stop() {
      unsubscribe();
      if (!exited) {
        await new Promise<void>((resolve) => {
          stopped = resolve;
          post({ type: 'stop' });
          setTimeout(resolve, STOP_WAIT_MS).unref();
        });
        await worker.terminate();
      }
      await consuming;
    },
  };
}
