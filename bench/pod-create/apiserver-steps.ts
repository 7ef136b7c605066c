// Where a Pod CREATE's admission time goes, as kube-apiserver itself measures it: its own /metrics
// histograms (k8s.io/apiserver pkg/admission/metrics/metrics.go), read before and after each stretch
// of sequential creates so each config gets only its own requests. Means (sum / count), in ms:
//   admit      the mutating admission step (in-tree plugins and every mutating webhook call)
//   validate   the validating step (in-tree plugins, and a validating webhook's matching, its
//              matchConditions and its call, when one applies)
//   webhook    each webhook's call as kube-apiserver times it (for a mutating one, the patch too)
//   matchConditions  each webhook's CEL matchConditions evaluation
import { readFileSync } from 'node:fs';
import { apiRequest, type ControlPlaneInfo } from '../../test/e2e/control-plane.js';

const SERIES = /^apiserver_admission_(step_admission_duration_seconds|webhook_admission_duration_seconds|match_condition_evaluation_seconds)_(sum|count)\{(.*)\} (\S+)$/;
const FIELD: Record<string, string> = {
  step_admission_duration_seconds: 'step',
  webhook_admission_duration_seconds: 'webhook',
  match_condition_evaluation_seconds: 'matchConditions',
};

/** Sum and count per `step admit`, `webhook <name>`, `matchConditions <name>` (CREATE, not rejected). */
export type Totals = Map<string, { sum: number; count: number }>;

export async function scrape(cp: ControlPlaneInfo): Promise<Totals> {
  const res = await apiRequest({ ...cp, ca: readFileSync(cp.caFile, 'utf8') }, 'GET', '/metrics', undefined);
  if (res.status !== 200) throw new Error(`kube-apiserver /metrics: HTTP ${res.status}`);
  const totals: Totals = new Map();
  for (const line of res.text.split('\n')) {
    const m = SERIES.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[3].matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
    if (labels.operation !== 'CREATE' || labels.rejected === 'true') continue;
    const key = m[1] === 'step_admission_duration_seconds' ? `step ${labels.type}` : `${FIELD[m[1]]} ${labels.name}`;
    const t = totals.get(key) ?? { sum: 0, count: 0 };
    t[m[2] as 'sum' | 'count'] += Number(m[4]);
    totals.set(key, t);
  }
  return totals;
}

/** Adds `after - before` into `into`. */
export function accumulate(into: Totals, before: Totals, after: Totals) {
  for (const [key, a] of after) {
    const b = before.get(key) ?? { sum: 0, count: 0 };
    if (a.count === b.count) continue;
    const t = into.get(key) ?? { sum: 0, count: 0 };
    into.set(key, { sum: t.sum + a.sum - b.sum, count: t.count + a.count - b.count });
  }
}

/** Mean ms per call of each series, with how many calls it is over. */
export function means(totals: Totals): Record<string, { ms: number; calls: number }> {
  return Object.fromEntries([...totals].sort(([a], [b]) => a.localeCompare(b)).map(([key, t]) => [key, { ms: Math.round((t.sum / t.count) * 1e6) / 1e3, calls: t.count }]));
}
