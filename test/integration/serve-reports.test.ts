// `meshguard serve --reports`: report objects come from the background audit, so asking for them
// while the audit cannot run is said at startup (a warning naming why), and an unknown API is a
// usage error. Writing the reports to a real kube-apiserver is test/e2e/serve-reports.test.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportApiName } from '../../src/cluster-audit/report-objects.js';
import { serve, type ServeOptions } from '../../src/server/main.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';

let dir: string;
let kubeconfig: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshguard-reports-flag-'));
  // Live mode pointed at a port nothing listens on: the informers retry; the flags are what is read here.
  kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, 'http://127.0.0.1:1');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The warn-level lines and the `background audit on` line of a serve started with `o`. */
async function startupLines(o: Partial<ServeOptions>) {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const running = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, log, ...o });
  await running.close();
  return {
    warned: lines.filter((l) => l.level === 40 && String(l.msg).startsWith('--reports')).map((l) => l.msg),
    auditOn: lines.find((l) => l.msg === 'background audit on'),
  };
}

describe('meshguard serve --reports', () => {
  it.each<{ name: string; o: () => Partial<ServeOptions>; warned: RegExp[]; reports?: string }>([
    {
      name: 'standalone (--cluster-state): warned, no audit',
      o: () => ({ clusterState: 'examples/cluster', reports: 'openreports', auditIntervalMs: 60_000 }),
      warned: [/^--reports openreports writes the background audit's results, but the background audit is off: there is no live cluster \(standalone \(examples\/cluster\); the audit runs in live mode only\); no reports will be written$/],
    },
    {
      name: 'standalone, empty cluster: warned',
      o: () => ({ reports: 'wgpolicyk8s', auditIntervalMs: 60_000 }),
      warned: [/^--reports wgpolicyk8s .* there is no live cluster \(standalone \(empty cluster\)/],
    },
    {
      name: 'live with --audit-interval 0: warned',
      o: () => ({ kubeconfig, reports: 'openreports', auditIntervalMs: 0 }),
      warned: [/^--reports openreports .* the background audit is off: --audit-interval is 0; no reports will be written$/],
    },
    {
      name: 'live with the audit on: the writer is on, nothing warned',
      o: () => ({ kubeconfig, reports: 'wgpolicyk8s', auditIntervalMs: 60_000 }),
      warned: [],
      reports: 'wgpolicyk8s.io/v1alpha2',
    },
    {
      name: 'live with the audit on and reports none: nothing warned, no writer',
      o: () => ({ kubeconfig, reports: 'none', auditIntervalMs: 60_000 }),
      warned: [],
      reports: 'none',
    },
    {
      name: 'standalone without --reports: nothing warned',
      o: () => ({ clusterState: 'examples/cluster' }),
      warned: [],
    },
  ])('$name', async ({ o, warned, reports }) => {
    const lines = await startupLines(o());
    expect(lines.warned).toEqual(warned.map((w) => expect.stringMatching(w)));
    expect(lines.auditOn?.reports).toBe(reports);
  });

  it.each(['pdf', 'off', ''])('refuses --reports %j', async (value) => {
    const proc = spawn(process.execPath, ['dist/cli.js', 'serve', '--reports', value], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    expect(await new Promise((r) => proc.on('exit', r))).toBe(2);
    const apis: ReportApiName[] = ['openreports', 'wgpolicyk8s', 'none'];
    expect(err).toBe(`meshguard: --reports must be one of ${apis.join(', ')}, got "${value}"\n`);
  });
});
