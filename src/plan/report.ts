// The plan as one report object: what every formatter (text, JSON, HTML) prints. Pure.
import type { KubeObject } from '../kube.js';
import { isRecord } from '../kube.js';
import type { Policy } from '../policy/types.js';
import { Inventory } from './inventory.js';
import { migrationFor, type MigrationStep } from './migration.js';
import { savingsOf, ztunnelOf, type NamespaceSavings, type Prices, type Savings } from './savings.js';
import type { ModeCounts, PlanInput, PlanReason, Verdict, Workload } from './types.js';
import { VERDICTS } from './types.js';
import { planNamespaces } from './verdict.js';

export interface NamespaceReport {
  namespace: string;
  verdict: Verdict;
  reasons: PlanReason[];
  pods: { now: ModeCounts; after: ModeCounts };
  moving: Workload[];
  staying: Workload[];
  waypoint?: { name: string; exists: boolean };
  /** The objects to apply, in step order (ready and needs-waypoint only). */
  manifests: KubeObject[];
  steps: MigrationStep[];
  savings?: NamespaceSavings;
}

export interface PlanReport {
  /** Where the cluster was read from. */
  source: string;
  /** Kinds that could not be read: the plan is partial when there are any. */
  readErrors: Array<{ resource: string; reason: string; message: string }>;
  summary: { verdicts: Record<Verdict, number>; pods: { now: ModeCounts; after: ModeCounts } };
  namespaces: NamespaceReport[];
  savings: Omit<Savings, 'namespaces'>;
  /** What the figures are, said once for every format. */
  basis: string;
}

export interface PlanOptions {
  prices: Prices;
  trustDomain: string;
  source: string;
  readErrors?: PlanReport['readErrors'];
}

export const BASIS =
  'All figures are resource requests (what the scheduler reserves), read from the cluster or taken from Istio\'s defaults where nothing is set; they are not measured usage.';

export function buildPlanReport(input: PlanInput, policy: Policy, opts: PlanOptions): PlanReport {
  const inventory = new Inventory(input.objects);
  const plans = planNamespaces(input, policy, inventory);
  const nodes = new Set(inventory.all('Pod').map((p) => (isRecord(p.spec) && typeof p.spec.nodeName === 'string' ? p.spec.nodeName : '')).filter(Boolean));
  const { namespaces: perNamespace, ...savings } = savingsOf(plans, ztunnelOf(inventory, nodes), opts.prices);
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  const now = { sidecar: 0, ambient: 0, none: 0 };
  const after = { sidecar: 0, ambient: 0, none: 0 };
  const namespaces = plans.map((plan): NamespaceReport => {
    verdicts[plan.verdict]++;
    for (const k of ['sidecar', 'ambient', 'none'] as const) {
      now[k] += plan.now[k];
      after[k] += plan.after[k];
    }
    const migration = migrationFor(plan, input.snapshot, { trustDomain: opts.trustDomain });
    const nsSavings = perNamespace.find((s) => s.namespace === plan.namespace);
    return {
      namespace: plan.namespace,
      verdict: plan.verdict,
      reasons: plan.reasons,
      pods: { now: plan.now, after: plan.after },
      moving: plan.moving,
      staying: plan.staying,
      ...(plan.waypoint && { waypoint: plan.waypoint }),
      manifests: migration?.manifests ?? [],
      steps: migration?.steps ?? [],
      ...(nsSavings && { savings: nsSavings }),
    };
  });
  return { source: opts.source, readErrors: opts.readErrors ?? [], summary: { verdicts, pods: { now, after } }, namespaces, savings, basis: BASIS };
}
