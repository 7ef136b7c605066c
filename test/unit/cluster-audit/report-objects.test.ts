import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  buildReportObjects,
  CLUSTER_REPORT_NAME,
  POD_NAMES_MAX,
  REPORT_API,
  RESULTS_TOTAL_ANNOTATION,
  resultOf,
  type ReportObject,
} from '../../../src/cluster-audit/report-objects.js';
import type { AuditFinding, AuditReport } from '../../../src/cluster-audit/run.js';

const AT = new Date('2026-11-25T18:00:00.250Z');
const TS = { seconds: Math.floor(AT.getTime() / 1000), nanos: 0 };

const finding = (f: Partial<AuditFinding>): AuditFinding => ({
  rule: 'waypoint-missing',
  severity: 'error',
  result: 'denied',
  apiVersion: 'v1',
  kind: 'Service',
  namespace: 'shop',
  name: 'cart',
  path: 'metadata.labels["istio.io/use-waypoint"]',
  message: '[waypoint-missing] ...',
  ...f,
});

const audit = (findings: AuditFinding[], more: Partial<AuditReport> = {}): AuditReport => ({
  source: 'live (https://127.0.0.1)',
  complete: true,
  readErrors: [],
  findings,
  namespaces: [...new Set(findings.map((f) => f.namespace).filter((n) => n !== null))].sort(),
  summary: { objects: {}, errors: 0, warnings: 0, skipped: 0, pods: { actual: { ambient: 0, sidecar: 0, none: 0 }, decided: { ambient: 0, sidecar: 0, none: 0 } } },
  ...more,
});

describe('resultOf: one finding as one result', () => {
  it.each([
    {
      name: 'error severity, denied at admission: fail, high',
      f: finding({ uid: 'u-1' }),
      want: {
        source: 'meshguard',
        policy: 'waypoint-missing',
        rule: 'waypoint-missing',
        result: 'fail',
        severity: 'high',
        message: '[waypoint-missing] ...',
        resources: [{ apiVersion: 'v1', kind: 'Service', name: 'cart', namespace: 'shop', uid: 'u-1' }],
        properties: { path: 'metadata.labels["istio.io/use-waypoint"]', admission: 'denied' },
        timestamp: TS,
      },
    },
    {
      name: 'error severity in an audit namespace (only logged at admission): still fail, admission says logged',
      f: finding({ result: 'logged' }),
      want: { result: 'fail', severity: 'high', properties: { path: 'metadata.labels["istio.io/use-waypoint"]', admission: 'logged' } },
    },
    {
      name: 'error severity in a warn namespace: fail, admission warned',
      f: finding({ result: 'warned' }),
      want: { result: 'fail', properties: { path: 'metadata.labels["istio.io/use-waypoint"]', admission: 'warned' } },
    },
    {
      name: 'warning severity: warn, medium',
      f: finding({ rule: 'authz-dry-run-ignored', severity: 'warning', result: 'warned' }),
      want: { policy: 'authz-dry-run-ignored', rule: 'authz-dry-run-ignored', result: 'warn', severity: 'medium' },
    },
    {
      name: 'cluster-scoped object: no namespace, no uid when unknown',
      f: finding({ kind: 'Namespace', namespace: null, name: 'shop', path: 'metadata.labels' }),
      want: { resources: [{ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }] },
    },
    {
      name: 'pod-mode-drift: the owner, the pod count and the pod names',
      f: finding({ rule: 'pod-mode-drift', severity: 'warning', result: 'warned', apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', path: 'metadata', pods: { count: 2, names: ['web-a', 'web-b'] } }),
      want: {
        result: 'warn',
        resources: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }],
        properties: { path: 'metadata', admission: 'warned', pods: '2', podNames: 'web-a, web-b' },
      },
    },
    {
      name: `pod-mode-drift of many pods: ${POD_NAMES_MAX} names and how many more`,
      f: finding({ rule: 'pod-mode-drift', severity: 'warning', kind: 'DaemonSet', name: 'ds', pods: { count: 25, names: Array.from({ length: 25 }, (_, i) => `ds-${String(i).padStart(2, '0')}`) } }),
      want: { properties: expect.objectContaining({ pods: '25', podNames: `${Array.from({ length: 20 }, (_, i) => `ds-${String(i).padStart(2, '0')}`).join(', ')} and 5 more` }) },
    },
  ])('$name', ({ f, want }) => {
    expect(resultOf(f, TS)).toMatchObject(want);
  });
});

describe('buildReportObjects', () => {
  it.each([
    {
      api: REPORT_API.openreports,
      apiVersion: 'openreports.io/v1alpha1',
      kinds: ['ClusterReport', 'Report', 'Report'],
      extra: { source: 'meshguard', configuration: { limits: { maxResults: 1000 } } },
    },
    { api: REPORT_API.wgpolicyk8s, apiVersion: 'wgpolicyk8s.io/v1alpha2', kinds: ['ClusterPolicyReport', 'PolicyReport', 'PolicyReport'], extra: {} },
  ])('$apiVersion: a cluster report, then one report per namespace with judged objects', ({ api, apiVersion, kinds, extra }) => {
    const report = audit([finding({ namespace: 'shop' }), finding({ kind: 'Namespace', namespace: null, name: 'shop' })], { namespaces: ['clean', 'shop'] });
    const objects = buildReportObjects(report, api, { at: AT });
    expect(objects.map((o) => o.kind)).toEqual(kinds);
    expect(objects.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([`/${CLUSTER_REPORT_NAME}`, 'clean/meshguard', 'shop/meshguard']);
    for (const o of objects) {
      expect(o.apiVersion).toBe(apiVersion);
      expect(o.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'meshguard' });
      expect(o).toMatchObject(extra);
      if (api.name === 'wgpolicyk8s') expect(o).not.toHaveProperty('source');
    }
    const [cluster, clean, shop] = objects;
    expect(cluster.scope).toBeUndefined();
    expect(clean.scope).toEqual({ apiVersion: 'v1', kind: 'Namespace', name: 'clean' });
    expect(clean.results).toEqual([]);
    expect(clean.summary).toEqual({ pass: 0, fail: 0, warn: 0, error: 0, skip: 0 });
    expect(shop.summary).toEqual({ pass: 0, fail: 1, warn: 0, error: 0, skip: 0 });
    expect(cluster.results.map((r) => r.resources?.[0].kind)).toEqual(['Namespace']);
  });

  it('results sorted worst first, then by kind, name, rule and path, whatever the input order', () => {
    const fs = [
      finding({ rule: 'authz-dry-run-ignored', severity: 'warning', kind: 'AuthorizationPolicy', name: 'a' }),
      finding({ kind: 'Service', name: 'b', path: 'z' }),
      finding({ kind: 'Service', name: 'b', path: 'a' }),
      finding({ kind: 'AuthorizationPolicy', name: 'z', rule: 'authz-l7-needs-waypoint' }),
      finding({ kind: 'AuthorizationPolicy', name: 'z', rule: 'authz-dry-run-ignored' }),
    ];
    const order = (list: AuditFinding[]) =>
      buildReportObjects(audit(list), REPORT_API.openreports, { at: AT })[1].results.map((r) => `${r.result} ${r.resources![0].kind}/${r.resources![0].name} ${r.rule} ${r.properties.path}`);
    const want = [
      'fail AuthorizationPolicy/z authz-dry-run-ignored metadata.labels["istio.io/use-waypoint"]',
      'fail AuthorizationPolicy/z authz-l7-needs-waypoint metadata.labels["istio.io/use-waypoint"]',
      'fail Service/b waypoint-missing a',
      'fail Service/b waypoint-missing z',
      'warn AuthorizationPolicy/a authz-dry-run-ignored metadata.labels["istio.io/use-waypoint"]',
    ];
    expect(order(fs)).toEqual(want);
    expect(order([...fs].reverse())).toEqual(want);
  });

  it('deterministic: the same audit and time give the same JSON', () => {
    const fs = Array.from({ length: 50 }, (_, i) => finding({ name: `s${(i * 7) % 50}`, namespace: `ns${i % 3}` }));
    const a = JSON.stringify(buildReportObjects(audit(fs), REPORT_API.wgpolicyk8s, { at: AT }));
    const b = JSON.stringify(buildReportObjects(audit([...fs].reverse()), REPORT_API.wgpolicyk8s, { at: AT }));
    expect(a).toBe(b);
  });

  it.each([
    { name: 'count cap', n: 30, o: { resultsMax: 10 }, kept: 10 },
    { name: 'byte cap: as many as fit in 4000 bytes', n: 30, o: { resultBytesMax: 4000 }, kept: Math.floor(4000 / (Buffer.byteLength(JSON.stringify(resultOf(finding({ name: 's00' }), TS))) + 1)) },
    { name: 'under both caps: all kept, no annotation', n: 5, o: { resultsMax: 10 }, kept: 5 },
  ])('size cap ($name): the worst results kept, the summary counts all, the annotation says how many there were', ({ n, o, kept }) => {
    const fs = Array.from({ length: n }, (_, i) => finding({ name: `s${String(i).padStart(2, '0')}`, severity: i % 2 ? 'warning' : 'error' }));
    const [, shop] = buildReportObjects(audit(fs), REPORT_API.openreports, { at: AT, ...o });
    expect(shop.results).toHaveLength(kept);
    expect(shop.summary).toEqual({ pass: 0, fail: Math.ceil(n / 2), warn: Math.floor(n / 2), error: 0, skip: 0 });
    expect(shop.results.slice(0, Math.min(kept, Math.ceil(n / 2))).every((r) => r.result === 'fail')).toBe(true);
    if (kept < n) expect(shop.metadata.annotations).toEqual({ [RESULTS_TOTAL_ANNOTATION]: String(n) });
    else expect(shop.metadata.annotations).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(shop.results))).toBeLessThanOrEqual(o.resultBytesMax ?? Infinity);
  });

  it('the default caps keep a report of 100,000 findings well under etcd 1.5 MiB', () => {
    const fs = Array.from({ length: 100_000 }, (_, i) => finding({ name: `svc-${i}`, message: `[waypoint-missing] ${'x'.repeat(400)}`, uid: '0b7c6a52-0000-4000-8000-000000000001' }));
    const [, shop] = buildReportObjects(audit(fs), REPORT_API.openreports, { at: AT });
    expect(Buffer.byteLength(JSON.stringify(shop))).toBeLessThan(1.1 * 1024 * 1024);
    expect(shop.summary.fail).toBe(100_000);
  });

  it('kinds that could not be read: error results in the cluster report', () => {
    const report = audit([], {
      complete: false,
      readErrors: [{ resource: 'Sidecar.networking.istio.io', kind: 'Sidecar', group: 'networking.istio.io', reason: 'forbidden', message: 'sidecars is forbidden' }],
    });
    const [cluster] = buildReportObjects(report, REPORT_API.wgpolicyk8s, { at: AT });
    expect(cluster.summary.error).toBe(1);
    expect(cluster.results).toEqual([
      {
        source: 'meshguard',
        policy: 'audit-read',
        rule: 'Sidecar.networking.istio.io',
        result: 'error',
        message: 'meshguard could not read Sidecar.networking.istio.io (forbidden): sidecars is forbidden. Its objects are not in these reports.',
        properties: { reason: 'forbidden' },
        timestamp: TS,
      },
    ]);
  });
});

/**
 * The published CRD schema of a kind (test/e2e/report-crds), made strict: an object schema with
 * properties allows no others, so a field the API server would prune silently fails here.
 */
function crdSchema(file: string, version: string): object {
  const crd = parseAllDocuments(readFileSync(new URL(`../../e2e/report-crds/${file}`, import.meta.url), 'utf8'))
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'CustomResourceDefinition');
  const schema = crd.spec.versions.find((v: { name: string }) => v.name === version).schema.openAPIV3Schema;
  const strict = (s: any): any => {
    if (!s || typeof s !== 'object') return s;
    if (Array.isArray(s)) return s.map(strict);
    const out: any = Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('x-kubernetes-')).map(([k, v]) => [k, strict(v)]));
    if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
    return out;
  };
  return strict(schema);
}

describe('the objects validate against the published CRD schemas', () => {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const report = audit(
    [
      finding({ uid: 'u-1' }),
      finding({ rule: 'pod-mode-drift', severity: 'warning', result: 'warned', apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', path: 'metadata', pods: { count: 1, names: ['web-a'] } }),
      finding({ kind: 'GatewayClass', apiVersion: 'gateway.networking.k8s.io/v1', namespace: null, name: 'istio-waypoint' }),
    ],
    { readErrors: [{ resource: 'Pod', kind: 'Pod', group: '', reason: 'forbidden', message: 'no' }] },
  );
  it.each([
    { api: REPORT_API.openreports, files: ['openreports.io_clusterreports.yaml', 'openreports.io_reports.yaml'] },
    { api: REPORT_API.wgpolicyk8s, files: ['wgpolicyk8s.io_clusterpolicyreports.yaml', 'wgpolicyk8s.io_policyreports.yaml'] },
  ])('$api.group/$api.version', ({ api, files }) => {
    const objects: ReportObject[] = buildReportObjects(report, api, { at: AT, resultsMax: 1 });
    expect(objects.map((o) => o.kind).sort()).toEqual([api.cluster.kind, api.namespaced.kind]);
    for (const o of objects) {
      const validate = ajv.compile(crdSchema(o.kind === api.cluster.kind ? files[0] : files[1], api.version));
      expect(validate(o) ? [] : validate.errors).toEqual([]);
    }
  });

  it('the strict schema does catch a field the CRD does not have', () => {
    const validate = ajv.compile(crdSchema('wgpolicyk8s.io_policyreports.yaml', 'v1alpha2'));
    const [, shop] = buildReportObjects(report, REPORT_API.openreports, { at: AT });
    expect(validate({ ...shop, apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport' })).toBe(false);
  });
});
