import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startBackgroundAudit, type AuditRun } from '../../../src/cluster-audit/background.js';
import type { AuditReport } from '../../../src/cluster-audit/run.js';
import { readClusterFiles } from '../../../src/cluster/read.js';
import { policy } from '../../helpers/objects.js';

/** A pino logger whose lines land in `lines`. */
function logger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
};

describe('startBackgroundAudit', () => {
  it('waits for the caches to sync, then hands each consumer the same report auditCluster makes', async () => {
    const { log } = logger();
    let synced = false;
    const got: Array<[AuditReport, AuditRun]> = [];
    const audit = startBackgroundAudit({
      intervalMs: 60_000,
      read: () => readClusterFiles(['examples/bad']),
      policy,
      log,
      synced: () => synced,
      pollMs: 5,
      onReport: [(r, run) => void got.push([r, run])],
    });
    await sleep(50);
    expect(got).toHaveLength(0);
    synced = true;
    await until(() => got.length === 1);
    await audit.stop();
    const { auditCluster } = await import('../../../src/cluster-audit/run.js');
    expect(got[0][0]).toEqual(await auditCluster(readClusterFiles(['examples/bad']), policy));
    expect(got[0][0].findings.length).toBeGreaterThan(0);
    expect(audit.last()?.report).toBe(got[0][0]);
    expect(got[0][1].durationMs).toBeGreaterThanOrEqual(0);
  });

  it('never runs two audits at once, even when a consumer is slower than the interval', async () => {
    const { log } = logger();
    let reads = 0;
    let inFlight = 0;
    let most = 0;
    const audit = startBackgroundAudit({
      intervalMs: 1,
      read: () => {
        reads++;
        inFlight++;
        most = Math.max(most, inFlight);
        return readClusterFiles(['examples/cluster']);
      },
      policy,
      log,
      onReport: [
        async () => {
          await sleep(20);
          inFlight--;
        },
      ],
    });
    await until(() => reads >= 4);
    await audit.stop();
    expect(most).toBe(1);
  });

  it('logs one line per run with counts only, and goes on after a consumer or a read fails', async () => {
    const { log, lines } = logger();
    let n = 0;
    const audit = startBackgroundAudit({
      intervalMs: 1,
      read: () => {
        if (++n === 2) throw new Error('cache gone');
        return readClusterFiles(['examples/bad/pod-mode.yaml']);
      },
      policy,
      log,
      onReport: [
        () => {
          throw new Error('writer down');
        },
      ],
    });
    audit.onReport(() => {}); // added later: still called
    await until(() => n >= 4);
    await audit.stop();
    const runs = lines.filter((l) => l.msg === 'background audit');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(runs[0]).sort()).toEqual(
      ['complete', 'durationMs', 'errors', 'findings', 'hostname', 'level', 'msg', 'objects', 'pid', 'readErrors', 'skipped', 'time', 'warnings'].sort(),
    );
    expect(lines.some((l) => l.msg === 'audit report consumer failed' && l.err === 'writer down')).toBe(true);
    expect(lines.some((l) => l.msg === 'background audit failed' && l.err === 'cache gone')).toBe(true);
    // Nothing from the objects themselves (names, messages) reaches the log.
    expect(JSON.stringify(lines)).not.toMatch(/meshguard decides|istio\.io\//);
  });

  it('refuses an interval that is not positive', () => {
    const { log } = logger();
    expect(() => startBackgroundAudit({ intervalMs: 0, read: () => readClusterFiles(['examples/cluster']), policy, log })).toThrow(/positive/);
  });
});
