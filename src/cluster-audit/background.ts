// The background audit of `meshguard serve`: every interval, the same auditCluster that
// `meshguard audit` runs, over the objects the server already holds in its caches, handed to each
// report consumer (the Prometheus gauges, the report-object writer). Never two runs at once: the
// next run is timed from the end of the last one.
import type { Logger } from 'pino';
import type { ClusterRead } from '../cluster/read.js';
import type { Policy } from '../policy/types.js';
import { auditCluster, type AuditReport } from './run.js';

/** When and how long the run that made a report took. */
export interface AuditRun {
  /** Milliseconds since the epoch at the start of the run. */
  startedAt: number;
  durationMs: number;
}

/** Takes each report; may be async (the next run waits for it); an error is logged, never fatal. */
export type ReportConsumer = (report: AuditReport, run: AuditRun) => void | Promise<void>;

export interface BackgroundAuditOptions {
  /** Time from the end of one run to the start of the next. */
  intervalMs: number;
  /** A read over the caches as they are now (each run takes a new one). */
  read: () => ClusterRead;
  policy: Policy;
  log: Logger;
  /** The report consumers, called in order after each run; more can be added with onReport(). */
  onReport?: ReportConsumer[];
  /**
   * Whether the caches have synced: the first run waits for it (polled every `pollMs`), at most one
   * interval; then it runs on what has synced, and the read reports the rest as read errors.
   */
  synced?: () => boolean;
  /** Milliseconds of evaluation between two event-loop turns (auditCluster's sliceMs). */
  sliceMs?: number;
  pollMs?: number;
}

export interface BackgroundAudit {
  /** Adds a report consumer (the report-object writer registers here). */
  onReport(consumer: ReportConsumer): void;
  /** The last report, if a run has finished. */
  last(): { report: AuditReport; run: AuditRun } | undefined;
  /** Stops the loop; resolves once a run in progress (and its consumers) has finished. */
  stop(): Promise<void>;
}

export function startBackgroundAudit(o: BackgroundAuditOptions): BackgroundAudit {
  if (!(o.intervalMs > 0)) throw new Error(`the audit interval must be positive, got ${o.intervalMs}`);
  const consumers = [...(o.onReport ?? [])];
  const pollMs = o.pollMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let last: { report: AuditReport; run: AuditRun } | undefined;
  const waitUntil = Date.now() + o.intervalMs;

  const schedule = (ms: number) => {
    if (stopped) return;
    // unref: a pending audit never keeps the process alive.
    timer = setTimeout(tick, ms).unref();
  };

  function tick() {
    timer = undefined;
    if (stopped) return;
    if (!last && o.synced && !o.synced() && Date.now() < waitUntil) return schedule(pollMs);
    running = runOnce().finally(() => {
      running = undefined;
      schedule(o.intervalMs);
    });
  }

  async function runOnce() {
    const startedAt = Date.now();
    const t0 = performance.now();
    let report: AuditReport;
    try {
      report = await auditCluster(o.read(), o.policy, { sliceMs: o.sliceMs });
    } catch (err) {
      o.log.error({ err: (err as Error).message }, 'background audit failed');
      return;
    }
    const run = { startedAt, durationMs: Math.round(performance.now() - t0) };
    last = { report, run };
    const { summary } = report;
    // Counts only: no names, labels or messages from the objects.
    o.log.info(
      {
        durationMs: run.durationMs,
        complete: report.complete,
        objects: Object.values(summary.objects).reduce((a, b) => a + b, 0),
        findings: report.findings.length,
        errors: summary.errors,
        warnings: summary.warnings,
        skipped: summary.skipped,
        readErrors: report.readErrors.length,
      },
      'background audit',
    );
    for (const consumer of consumers) {
      try {
        await consumer(report, run);
      } catch (err) {
        o.log.error({ err: (err as Error).message }, 'audit report consumer failed');
      }
    }
  }

  schedule(0);
  return {
    onReport: (consumer) => void consumers.push(consumer),
    last: () => last,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
