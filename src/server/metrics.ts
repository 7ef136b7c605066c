import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Outcome } from '../admission/outcome.js';
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

  return {
    registry,
    cacheSynced,
    cacheObjects,
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
