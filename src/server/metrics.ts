import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Outcome } from '../admission/outcome.js';
import type { AuditRun } from '../cluster-audit/background.js';
import type { AuditReport } from '../cluster-audit/run.js';
import type { ResourceState } from '../cluster/reader.js';
import { VALIDATED_KINDS } from '../validate/index.js';

export type Webhook = 'mutate' | 'validate';
const WEBHOOK_LABELS = { mutate: { webhook: 'mutate' }, validate: { webhook: 'validate' } } as const;

/**
 * The `kind` label: a kind meshguard judges, else `other`. The kind comes from the request, and a
 * series per value a caller chooses would let anyone grow /metrics (and the memory behind it) without
 * bound: 20,000 made-up kinds made 20,000 series, and a 4 MB kind name a 4 MB label. Every other
 * label is meshguard's own (webhook, decoded operation, result, rule ids, modes).
 */
export function kindLabel(group: string, kind: string): string {
  // Own keys only: a group named `constructor` must not reach Object.prototype.
  return Object.hasOwn(VALIDATED_KINDS, group) && VALIDATED_KINDS[group].includes(kind) ? kind : 'other';
}

type CounterConfig<L extends string> = { name: string; help: string; labelNames: readonly L[]; registers: Registry[] };

/**
 * A counter counted per label combination in a map, and handed to prom-client when /metrics is read
 * (its collect hook): prom-client validates and hashes a label object on every inc(), and each
 * admission answer counts in up to three counters. Same series, same totals at every read.
 */
function batchedCounter<L extends string>(config: CounterConfig<L>) {
  const pending = new Map<string, { labels: Record<L, string>; n: number }>();
  new Counter<L>({
    ...config,
    collect() {
      for (const p of pending.values()) {
        if (p.n === 0) continue;
        this.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  });
  // The returned function takes the label values in labelNames order.
  return (...values: string[]) => {
    // Label values are meshguard's own or bounded (kindLabel), so the map stays as small as the series.
    const key = values.join('\0');
    const p = pending.get(key);
    if (p) p.n++;
    else pending.set(key, { labels: Object.fromEntries(config.labelNames.map((l, i) => [l, values[i]])) as Record<L, string>, n: 1 });
  };
}

/** meshguard's Prometheus metrics, each in its own registry so tests and servers don't share state. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = batchedCounter({
    name: 'meshguard_admission_requests_total',
    help: 'Admission requests answered, by webhook, object kind, operation and result (allowed, patched, warned, denied, invalid).',
    labelNames: ['webhook', 'kind', 'operation', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'meshguard_admission_duration_seconds',
    help: 'Time from a decoded AdmissionReview to its response, by webhook.',
    labelNames: ['webhook'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  const podModes = batchedCounter({
    name: 'meshguard_pod_mode_decisions_total',
    help: 'Pod dataplane-mode decisions, by mode and the rule that decided it (audit-mode decisions included).',
    labelNames: ['mode', 'rule'] as const,
    registers: [registry],
  });
  const findings = batchedCounter({
    name: 'meshguard_validation_findings_total',
    help: 'Findings by rule, severity and what they caused (denied, warned, logged).',
    labelNames: ['rule', 'severity', 'result'] as const,
    registers: [registry],
  });
  const cacheSynced = new Gauge({
    name: 'meshguard_cache_synced',
    help: '1 when the cluster cache of a kind has synced (or its API is absent and the kind is disabled), else 0.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const cacheObjects = new Gauge({
    name: 'meshguard_cache_objects',
    help: 'Objects held in the cluster cache, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const namespaceLookups = new Counter({
    name: 'meshguard_namespace_lookups_total',
    help: 'Requests whose namespace was not in the cache yet, by what the GET to the API server gave: fetched (decided with it), not-found or failed (admitted without a decision).',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  const reportErrors = new Counter({
    name: 'meshguard_audit_report_errors_total',
    help: 'Report objects (--reports) the background audit could not list, apply or delete, by report kind and why (not-served: the CRD is not installed; forbidden: the ClusterRole lacks the verbs; unauthorized, unreachable, failed).',
    labelNames: ['kind', 'reason'] as const,
    registers: [registry],
  });

  const audit = auditGauges(registry);

  return {
    registry,
    cacheSynced,
    /** The background audit's report consumer: every audit gauge now says what this report says. */
    auditReport: (report: AuditReport, run: AuditRun) => audit.set(report, run),
    cacheObjects,
    /** A watched cache's state and size (the snapshot's informers, the background audit's own watches). */
    cacheState(kind: string, state: ResourceState, objects: number) {
      cacheSynced.set({ kind }, state === 'pending' ? 0 : 1);
      cacheObjects.set({ kind }, objects);
    },
    /** The report writer's onError: a list, apply or delete of a report kind failed. */
    reportError: (kind: string, reason: string) => void reportErrors.inc({ kind, reason }),
    namespaceLookup(result: 'fetched' | 'not-found' | 'failed') {
      namespaceLookups.inc({ result });
    },
    invalid(webhook: Webhook) {
      requests(webhook, '', '', 'invalid');
    },
    record(webhook: Webhook, kind: { group: string; kind: string }, operation: string, outcome: Outcome, seconds: number) {
      requests(webhook, kindLabel(kind.group, kind.kind), operation, outcome.result);
      duration.observe(WEBHOOK_LABELS[webhook], seconds);
      if (outcome.mode && outcome.modeRule) podModes(outcome.mode, outcome.modeRule);
      for (const f of outcome.findings) findings(f.rule, f.severity, f.result);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Namespaces with a series of their own in meshguard_audit_namespace_violations; the rest add up in `_other`. */
export const AUDIT_TOP_NAMESPACES = 20;
/** Label values no namespace can have (a namespace name is a DNS label: no underscore). */
export const CLUSTER_SCOPED = '_cluster';
export const OTHER_NAMESPACES = '_other';

/**
 * The background audit's gauges. Each report replaces all of them (a fixed object's series goes
 * away), and every label set is bounded: rule ids and severities are meshguard's own, modes are
 * three, kinds are the audited ones, and namespaces are cut to the AUDIT_TOP_NAMESPACES with the most
 * violations plus `_other` (and `_cluster` for cluster-scoped objects).
 */
function auditGauges(registry: Registry) {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const violations = gauge('meshguard_audit_violations', 'Findings of the last background audit, by rule id and severity (pod-mode-drift counts once per owning workload).', ['rule', 'severity'] as const);
  const byNamespace = gauge('meshguard_audit_namespace_violations', `Findings of the last background audit by namespace: the ${AUDIT_TOP_NAMESPACES} namespaces with the most, the rest summed as ${OTHER_NAMESPACES}, cluster-scoped objects as ${CLUSTER_SCOPED}.`, ['namespace'] as const);
  const podsActual = gauge('meshguard_audit_pods_actual_mode', 'Pods judged by the last background audit, by the dataplane mode they run in.', ['mode'] as const);
  const podsDecided = gauge('meshguard_audit_pods_decided_mode', 'Pods judged by the last background audit, by the dataplane mode meshguard decides for them now.', ['mode'] as const);
  const objects = gauge('meshguard_audit_objects', 'Objects read by the last background audit, by kind.', ['kind'] as const);
  const duration = gauge('meshguard_audit_duration_seconds', 'How long the last background audit took.');
  const timestamp = gauge('meshguard_audit_last_run_timestamp_seconds', 'When the last background audit started (Unix time).');
  const complete = gauge('meshguard_audit_complete', '1 when the last background audit read every kind, 0 when some kind could not be read (its API is not served).');
  return {
    set(report: AuditReport, run: AuditRun) {
      const perRule = new Map<string, { rule: string; severity: string; n: number }>();
      const perNs = new Map<string, number>();
      for (const f of report.findings) {
        const k = `${f.rule} ${f.severity}`;
        const r = perRule.get(k);
        if (r) r.n++;
        else perRule.set(k, { rule: f.rule, severity: f.severity, n: 1 });
        const ns = f.namespace ?? CLUSTER_SCOPED;
        perNs.set(ns, (perNs.get(ns) ?? 0) + 1);
      }
      violations.reset();
      for (const { rule, severity, n } of perRule.values()) violations.set({ rule, severity }, n);
      byNamespace.reset();
      const ranked = [...perNs].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
      for (const [ns, n] of ranked.slice(0, AUDIT_TOP_NAMESPACES)) byNamespace.set({ namespace: ns }, n);
      const rest = ranked.slice(AUDIT_TOP_NAMESPACES).reduce((sum, [, n]) => sum + n, 0);
      if (rest) byNamespace.set({ namespace: OTHER_NAMESPACES }, rest);
      for (const [mode, n] of Object.entries(report.summary.pods.actual)) podsActual.set({ mode }, n);
      for (const [mode, n] of Object.entries(report.summary.pods.decided)) podsDecided.set({ mode }, n);
      objects.reset();
      for (const [kind, n] of Object.entries(report.summary.objects)) objects.set({ kind }, n);
      duration.set(run.durationMs / 1000);
      timestamp.set(run.startedAt / 1000);
      complete.set(report.complete ? 1 : 0);
    },
  };
}
