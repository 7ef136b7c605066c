// The cluster audit as policy report objects, the way Kyverno and Kubewarden users already read
// them: openreports.io/v1alpha1 Report and ClusterReport, or wgpolicyk8s.io/v1alpha2 PolicyReport and
// ClusterPolicyReport. Pure: the same AuditReport and time give the same objects, byte for byte.
// Schemas: test/e2e/report-crds/ (copies of the published CRDs, with where they came from).
import type { AuditFinding, AuditReport } from './run.js';

/** `meshguard serve --reports` and the chart's reports.api: which API the reports are written in, or none. */
export const REPORT_APIS = ['openreports', 'wgpolicyk8s', 'none'] as const;
export type ReportApiName = (typeof REPORT_APIS)[number];

export interface ReportKind {
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface ReportApi {
  name: Exclude<ReportApiName, 'none'>;
  group: string;
  version: string;
  namespaced: ReportKind;
  cluster: ReportKind;
}

export const REPORT_API: Record<Exclude<ReportApiName, 'none'>, ReportApi> = {
  openreports: {
    name: 'openreports',
    group: 'openreports.io',
    version: 'v1alpha1',
    namespaced: { kind: 'Report', plural: 'reports', namespaced: true },
    cluster: { kind: 'ClusterReport', plural: 'clusterreports', namespaced: false },
  },
  wgpolicyk8s: {
    name: 'wgpolicyk8s',
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    namespaced: { kind: 'PolicyReport', plural: 'policyreports', namespaced: true },
    cluster: { kind: 'ClusterPolicyReport', plural: 'clusterpolicyreports', namespaced: false },
  },
};

/** The name of meshguard's report in each namespace, and of its cluster-scoped report. */
export const REPORT_NAME = 'meshguard';
export const CLUSTER_REPORT_NAME = 'meshguard-cluster';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'meshguard' } as const;
export const SOURCE = 'meshguard';
/** Set when results were left out to keep the object small: how many findings there were in all. */
export const RESULTS_TOTAL_ANNOTATION = 'meshguard.io/results-total';

/**
 * At most this many results per report object, and at most RESULT_BYTES_MAX bytes of them: etcd
 * refuses a request over 1.5 MiB (--max-request-bytes), and a report is rewritten whole.
 */
export const RESULTS_MAX = 1000;
export const RESULT_BYTES_MAX = 1 << 20;
/** Characters of a message kept in a result; meshguard's messages are far shorter. */
export const MESSAGE_MAX = 2000;
/** Pod names listed in a pod-mode-drift result's properties; the count is always there. */
export const POD_NAMES_MAX = 20;

export type ResultStatus = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface ObjectReference {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** One entry of `results[]`: the same shape in both APIs (openreports ReportResult, wgpolicyk8s v1alpha2 PolicyReportResult). */
export interface ReportResult {
  source: string;
  policy: string;
  rule: string;
  result: ResultStatus;
  severity?: 'critical' | 'high' | 'medium' | 'low' | 'info';
  message: string;
  resources?: ObjectReference[];
  properties: Record<string, string>;
  timestamp: { seconds: number; nanos: number };
}

export interface ReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface ReportObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations?: Record<string, string> };
  /** openreports only: the top-level source. */
  source?: string;
  scope?: ObjectReference;
  /** openreports only: the contract on how many results a report holds. */
  configuration?: { limits: { maxResults: number } };
  summary: ReportSummary;
  results: ReportResult[];
}

export interface BuildOptions {
  /** When the audit ran: every result's timestamp. */
  at: Date;
  resultsMax?: number;
  resultBytesMax?: number;
}

/**
 * The report objects an audit should leave in the cluster: one per namespace with judged objects
 * (empty results when it is clean), and one cluster-scoped report (cluster-scoped objects, and the
 * kinds that could not be read as `error` results). Sorted: cluster report first, then by namespace.
 */
export function buildReportObjects(report: AuditReport, api: ReportApi, o: BuildOptions): ReportObject[] {
  const timestamp = { seconds: Math.floor(o.at.getTime() / 1000), nanos: 0 };
  const byNamespace = new Map<string, ReportResult[]>(report.namespaces.map((ns) => [ns, []]));
  const cluster: ReportResult[] = [];
  for (const f of report.findings) {
    if (f.namespace === null) cluster.push(resultOf(f, timestamp));
    else {
      let list = byNamespace.get(f.namespace);
      if (!list) byNamespace.set(f.namespace, (list = []));
      list.push(resultOf(f, timestamp));
    }
  }
  for (const e of report.readErrors) {
    cluster.push({
      source: SOURCE,
      policy: 'audit-read',
      rule: e.resource,
      result: 'error',
      message: `meshguard could not read ${e.resource} (${e.reason}): ${clip(e.message, MESSAGE_MAX)}. Its objects are not in these reports.`,
      properties: { reason: e.reason },
      timestamp,
    });
  }
  const limits = { max: o.resultsMax ?? RESULTS_MAX, bytes: o.resultBytesMax ?? RESULT_BYTES_MAX };
  const out = [reportObject(api, api.cluster, CLUSTER_REPORT_NAME, undefined, cluster, limits)];
  for (const ns of [...byNamespace.keys()].sort(text)) out.push(reportObject(api, api.namespaced, REPORT_NAME, ns, byNamespace.get(ns)!, limits));
  return out;
}

/**
 * A finding's result: `fail` for an error-severity rule, `warn` for a warning, whatever the
 * namespace's enforcement does with it (that is in properties.admission). Severity: error is high,
 * warning medium.
 */
export function resultOf(f: AuditFinding, timestamp: ReportResult['timestamp']): ReportResult {
  const resource: ObjectReference = { apiVersion: f.apiVersion, kind: f.kind, name: f.name };
  if (f.namespace !== null) resource.namespace = f.namespace;
  if (f.uid) resource.uid = f.uid;
  const properties: Record<string, string> = { path: f.path, admission: f.result };
  if (f.pods) {
    properties.pods = String(f.pods.count);
    const shown = f.pods.names.slice(0, POD_NAMES_MAX).join(', ');
    properties.podNames = f.pods.names.length > POD_NAMES_MAX ? `${shown} and ${f.pods.names.length - POD_NAMES_MAX} more` : shown;
  }
  return {
    source: SOURCE,
    policy: f.rule,
    rule: f.rule,
    result: f.severity === 'error' ? 'fail' : 'warn',
    severity: f.severity === 'error' ? 'high' : 'medium',
    message: clip(f.message, MESSAGE_MAX),
    resources: [resource],
    properties,
    timestamp,
  };
}

const SEVERITY_ORDER: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const STATUS_ORDER: Record<ResultStatus, number> = { error: 0, fail: 1, warn: 2, skip: 3, pass: 4 };
const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Worst first (so a cap keeps what matters most), then by object, rule and field path. */
export function compareResults(a: ReportResult, b: ReportResult): number {
  const ra = a.resources?.[0];
  const rb = b.resources?.[0];
  return (
    STATUS_ORDER[a.result] - STATUS_ORDER[b.result] ||
    (SEVERITY_ORDER[a.severity ?? 'info'] ?? 4) - (SEVERITY_ORDER[b.severity ?? 'info'] ?? 4) ||
    text(ra?.kind ?? '', rb?.kind ?? '') ||
    text(ra?.name ?? '', rb?.name ?? '') ||
    text(a.policy, b.policy) ||
    text(a.rule, b.rule) ||
    text(a.properties.path ?? '', b.properties.path ?? '')
  );
}

function reportObject(
  api: ReportApi,
  kind: ReportKind,
  name: string,
  namespace: string | undefined,
  all: ReportResult[],
  limits: { max: number; bytes: number },
): ReportObject {
  all.sort(compareResults);
  const summary: ReportSummary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of all) summary[r.result]++;
  const results: ReportResult[] = [];
  let bytes = 0;
  for (const r of all) {
    if (results.length >= limits.max) break;
    const size = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (bytes + size > limits.bytes) break;
    bytes += size;
    results.push(r);
  }
  const metadata: ReportObject['metadata'] = { name, ...(namespace === undefined ? {} : { namespace }), labels: { ...MANAGED_BY } };
  // The summary counts every finding; when results were left out, the annotation says how many there were.
  if (results.length < all.length) metadata.annotations = { [RESULTS_TOTAL_ANNOTATION]: String(all.length) };
  const object: ReportObject = {
    apiVersion: `${api.group}/${api.version}`,
    kind: kind.kind,
    metadata,
    ...(api.name === 'openreports' ? { source: SOURCE } : {}),
    ...(namespace === undefined ? {} : { scope: { apiVersion: 'v1', kind: 'Namespace', name: namespace } }),
    ...(api.name === 'openreports' ? { configuration: { limits: { maxResults: limits.max } } } : {}),
    summary,
    results,
  };
  return object;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
