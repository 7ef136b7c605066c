// The background audit's Prometheus gauges: what each report sets, and that every label set stays
// bounded whatever the cluster holds.
import { describe, expect, it } from 'vitest';
import type { AuditFinding, AuditReport } from '../../../src/cluster-audit/run.js';
import { AUDIT_TOP_NAMESPACES, createMetrics } from '../../../src/server/metrics.js';

const finding = (rule: string, severity: 'error' | 'warning', namespace: string | null): AuditFinding => ({
  rule: rule as AuditFinding['rule'],
  severity,
  result: severity === 'error' ? 'denied' : 'warned',
  apiVersion: 'v1',
  kind: 'Pod',
  namespace,
  name: 'x',
  path: 'metadata',
  message: 'm',
});

function report(findings: AuditFinding[], o: Partial<AuditReport> = {}): AuditReport {
  return {
    source: 'test',
    complete: true,
    readErrors: [],
    findings,
    namespaces: [],
    summary: {
      objects: { Pod: 3, Service: 1 },
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      skipped: 0,
      pods: { actual: { ambient: 1, sidecar: 2, none: 0 }, decided: { ambient: 3, sidecar: 0, none: 0 } },
    },
    ...o,
  };
}

/** The samples of a metric as `labels=value` lines, sorted. */
async function samples(m: ReturnType<typeof createMetrics>, name: string): Promise<string[]> {
  const metric = await m.registry.getSingleMetric(name)!.get();
  return metric.values.map((v) => `${Object.entries(v.labels).map(([k, x]) => `${k}=${x}`).join(',')} ${v.value}`).sort();
}

describe('audit gauges', () => {
  it.each([
    {
      name: 'violations by rule and severity, drift counted once per owner entry',
      findings: [finding('pod-mode-drift', 'error', 'a'), finding('pod-mode-drift', 'error', 'b'), finding('authz-l7-on-ztunnel', 'warning', 'a')],
      metric: 'meshguard_audit_violations',
      want: ['rule=authz-l7-on-ztunnel,severity=warning 1', 'rule=pod-mode-drift,severity=error 2'],
    },
    {
      name: 'violations by namespace, cluster-scoped objects as _cluster',
      findings: [finding('pod-mode-drift', 'error', 'a'), finding('waypoint-missing', 'error', 'a'), finding('namespace-labels', 'warning', null)],
      metric: 'meshguard_audit_namespace_violations',
      want: ['namespace=_cluster 1', 'namespace=a 2'],
    },
    {
      name: 'pods by the mode they run in',
      findings: [],
      metric: 'meshguard_audit_pods_actual_mode',
      want: ['mode=ambient 1', 'mode=none 0', 'mode=sidecar 2'],
    },
    {
      name: 'pods by the mode meshguard decides',
      findings: [],
      metric: 'meshguard_audit_pods_decided_mode',
      want: ['mode=ambient 3', 'mode=none 0', 'mode=sidecar 0'],
    },
    { name: 'objects by kind', findings: [], metric: 'meshguard_audit_objects', want: ['kind=Pod 3', 'kind=Service 1'] },
    { name: 'duration', findings: [], metric: 'meshguard_audit_duration_seconds', want: [' 1.25'] },
    { name: 'start time', findings: [], metric: 'meshguard_audit_last_run_timestamp_seconds', want: [' 1764000000'] },
    { name: 'complete', findings: [], metric: 'meshguard_audit_complete', want: [' 1'] },
  ])('$name', async ({ findings, metric, want }) => {
    const m = createMetrics();
    m.auditReport(report(findings), { startedAt: 1_764_000_000_000, durationMs: 1250 });
    expect(await samples(m, metric)).toEqual(want);
  });

  it('a partial audit sets complete to 0', async () => {
    const m = createMetrics();
    m.auditReport(report([], { complete: false }), { startedAt: 0, durationMs: 0 });
    expect(await samples(m, 'meshguard_audit_complete')).toEqual([' 0']);
  });

  it('the next report replaces the last: a fixed violation\'s series goes away', async () => {
    const m = createMetrics();
    m.auditReport(report([finding('waypoint-missing', 'error', 'a'), finding('pod-mode-drift', 'error', 'b')]), { startedAt: 0, durationMs: 1 });
    m.auditReport(report([finding('pod-mode-drift', 'error', 'b')]), { startedAt: 0, durationMs: 1 });
    expect(await samples(m, 'meshguard_audit_violations')).toEqual(['rule=pod-mode-drift,severity=error 1']);
    expect(await samples(m, 'meshguard_audit_namespace_violations')).toEqual(['namespace=b 1']);
  });

  it(`keeps the ${AUDIT_TOP_NAMESPACES} namespaces with the most violations and sums the rest as _other`, async () => {
    const m = createMetrics();
    // Namespace ns-i has i violations, for 5,000 namespaces: the top ones are the last.
    const findings: AuditFinding[] = [];
    const total = 5000;
    for (let i = 1; i <= total; i++) for (let j = 0; j < (i % 50) + 1; j++) findings.push(finding('pod-mode-drift', 'error', `ns-${i}`));
    m.auditReport(report(findings), { startedAt: 0, durationMs: 1 });
    const got = await samples(m, 'meshguard_audit_namespace_violations');
    expect(got).toHaveLength(AUDIT_TOP_NAMESPACES + 1);
    const sum = got.reduce((s, line) => s + Number(line.split(' ')[1]), 0);
    expect(sum).toBe(findings.length);
    // Ties (50 violations each, 100 namespaces) are broken by name.
    expect(got).toContain('namespace=ns-1049 50');
    expect(got.find((l) => l.startsWith('namespace=_other '))).toBe(`namespace=_other ${findings.length - 50 * AUDIT_TOP_NAMESPACES}`);
  });
});

describe('report writer errors', () => {
  it('counts each failed list, apply or delete by report kind and reason', async () => {
    const m = createMetrics();
    for (const [kind, reason] of [['Report', 'not-served'], ['ClusterReport', 'not-served'], ['Report', 'not-served'], ['Report', 'forbidden']]) m.reportError(kind, reason);
    expect(await samples(m, 'meshguard_audit_report_errors_total')).toEqual(['kind=ClusterReport,reason=not-served 1', 'kind=Report,reason=forbidden 1', 'kind=Report,reason=not-served 2']);
  });
});
