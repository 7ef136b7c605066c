// What the plan saves, in resource requests (what the scheduler reserves), never in usage: the
// cluster gives no usage here, and the report says so.
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, nameOf } from '../kube.js';
import { proxyContainer } from '../mutate/running-mode.js';
import type { Inventory } from './inventory.js';
import { parseQuantity } from './quantity.js';
import type { NamespacePlan } from './verdict.js';

export interface Requests {
  /** Cores. */
  cpu: number;
  /** Bytes. */
  memory: number;
}

/** Where a sidecar's requests came from, in the injector's order of precedence. */
export type RequestSource = 'container' | 'annotation' | 'istio-default';

/** Istio's defaults (manifests/charts/istio-control/istio-discovery/values.yaml global.proxy.resources.requests). */
export const SIDECAR_DEFAULT: Requests = { cpu: 0.1, memory: 128 * 2 ** 20 };
/** global.waypoint.resources.requests in the same values.yaml; one replica. */
export const WAYPOINT_DEFAULT: Requests = { cpu: 0.1, memory: 128 * 2 ** 20 };
/** manifests/charts/ztunnel/values.yaml resources.requests, per node. */
export const ZTUNNEL_DEFAULT: Requests = { cpu: 0.2, memory: 512 * 2 ** 20 };

/**
 * Example prices (USD): Google Compute Engine e2 on-demand, us-central1 list prices. Pass your own
 * with --cpu-cost-per-core-hour and --memory-cost-per-gib-hour.
 */
export const DEFAULT_PRICES = { cpuPerCoreHour: 0.021811, memoryPerGiBHour: 0.002923 };
export type Prices = typeof DEFAULT_PRICES;
export const HOURS_PER_MONTH = 730;

const GIB = 2 ** 30;
const SIDECAR_CPU = 'sidecar.istio.io/proxyCPU';
const SIDECAR_MEMORY = 'sidecar.istio.io/proxyMemory';

/**
 * A sidecar's requests: the istio-proxy container's own, else the annotations the injection template
 * reads (injection-template.yaml "resources": proxyCPU, proxyMemory), else Istio's defaults; per field.
 */
export function sidecarRequests(pod: KubeObject): Requests & { source: RequestSource } {
  const container = proxyContainer(pod);
  const requests = isRecord(container?.resources) && isRecord(container.resources.requests) ? container.resources.requests : {};
  const annotations = annotationsOf(pod);
  const used = new Set<RequestSource>();
  const pick = (own: unknown, annotation: string | undefined, fallback: number) => {
    for (const [value, from] of [[parseQuantity(own), 'container'], [parseQuantity(annotation), 'annotation']] as const)
      if (value !== undefined) {
        used.add(from);
        return value;
      }
    used.add('istio-default');
    return fallback;
  };
  const cpu = pick(requests.cpu, annotations[SIDECAR_CPU], SIDECAR_DEFAULT.cpu);
  const memory = pick(requests.memory, annotations[SIDECAR_MEMORY], SIDECAR_DEFAULT.memory);
  // A pod counts under the most specific source any of its figures came from.
  const source: RequestSource = used.has('container') ? 'container' : used.has('annotation') ? 'annotation' : 'istio-default';
  return { cpu, memory, source };
}

const add = (a: Requests, b: Requests): Requests => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory });
const scale = (a: Requests, n: number): Requests => ({ cpu: a.cpu * n, memory: a.memory * n });
const ZERO: Requests = { cpu: 0, memory: 0 };

export const monthlyCost = (r: Requests, prices: Prices) =>
  (r.cpu * prices.cpuPerCoreHour + (r.memory / GIB) * prices.memoryPerGiBHour) * HOURS_PER_MONTH;

export interface NamespaceSavings {
  namespace: string;
  /** What the sidecars request now, and how many pods' figures came from where. */
  sidecarsNow: Requests;
  sources: Record<RequestSource, number>;
  /** The sidecars that stay after the plan. */
  sidecarsAfter: Requests;
  /** The waypoint the plan adds (zero when it exists already or none is needed). */
  newWaypoint: Requests;
  saved: Requests;
  savedMonthly: number;
}

export interface Ztunnel {
  perNode: Requests;
  nodes: number;
  /** Where the figures came from. */
  requestsFrom: string;
  nodesFrom: string;
  /** Whether ztunnel runs already (then its cost is in both columns). */
  present: boolean;
}

export interface Savings {
  prices: Prices;
  namespaces: NamespaceSavings[];
  ztunnel: Ztunnel;
  now: Requests;
  after: Requests;
  saved: Requests;
  nowMonthly: number;
  afterMonthly: number;
  savedMonthly: number;
}

function sumSidecars(pods: KubeObject[]) {
  const sources: Record<RequestSource, number> = { container: 0, annotation: 0, 'istio-default': 0 };
  let total = ZERO;
  for (const pod of pods) {
    const r = sidecarRequests(pod);
    sources[r.source]++;
    total = add(total, r);
  }
  return { total, sources };
}

/** ztunnel's DaemonSet (named ztunnel, as Istio's chart names it), its per-node requests and its node count. */
export function ztunnelOf(inventory: Inventory, sidecarNodes: Set<string>): Ztunnel {
  const ds = inventory.all('DaemonSet').find((d) => nameOf(d) === 'ztunnel');
  const nodes = inventory.all('Node').length;
  const desired: unknown = isRecord(ds?.status) ? ds.status.desiredNumberScheduled : undefined;
  const nodeCount =
    typeof desired === 'number'
      ? { nodes: desired, nodesFrom: 'the ztunnel DaemonSet status (desiredNumberScheduled)' }
      : nodes > 0
        ? { nodes, nodesFrom: 'the Node objects' }
        : { nodes: Math.max(1, sidecarNodes.size), nodesFrom: 'the nodes the pods run on (spec.nodeName)' };
  if (!ds) return { perNode: ZTUNNEL_DEFAULT, requestsFrom: "Istio's defaults (ztunnel chart values.yaml)", present: false, ...nodeCount };
  const containers = isRecord(ds.spec) && isRecord(ds.spec.template) && isRecord(ds.spec.template.spec) && Array.isArray(ds.spec.template.spec.containers) ? ds.spec.template.spec.containers : [];
  let perNode = ZERO;
  for (const c of containers) {
    const requests = isRecord(c) && isRecord(c.resources) && isRecord(c.resources.requests) ? c.resources.requests : {};
    perNode = add(perNode, { cpu: parseQuantity(requests.cpu) ?? 0, memory: parseQuantity(requests.memory) ?? 0 });
  }
  return { perNode, requestsFrom: `the ztunnel DaemonSet in ${ds.metadata?.namespace ?? 'default'}`, present: true, ...nodeCount };
}

export function savingsOf(plans: NamespacePlan[], ztunnel: Ztunnel, prices: Prices): Savings {
  const namespaces: NamespaceSavings[] = [];
  let now = ZERO;
  let after = ZERO;
  for (const plan of plans) {
    const all = sumSidecars([...plan.movingPods, ...plan.stayingPods]);
    const staying = sumSidecars(plan.stayingPods).total;
    const moves = plan.verdict === 'ready' || plan.verdict === 'needs-waypoint';
    const sidecarsAfter = moves ? staying : all.total;
    const newWaypoint = moves && plan.waypoint && !plan.waypoint.exists ? WAYPOINT_DEFAULT : ZERO;
    const saved = { cpu: all.total.cpu - sidecarsAfter.cpu - newWaypoint.cpu, memory: all.total.memory - sidecarsAfter.memory - newWaypoint.memory };
    now = add(now, all.total);
    after = add(after, add(sidecarsAfter, newWaypoint));
    if (all.total.cpu === 0 && newWaypoint.cpu === 0) continue;
    namespaces.push({ namespace: plan.namespace, sidecarsNow: all.total, sources: all.sources, sidecarsAfter, newWaypoint, saved, savedMonthly: monthlyCost(saved, prices) });
  }
  const ztunnelTotal = scale(ztunnel.perNode, ztunnel.nodes);
  if (ztunnel.present) now = add(now, ztunnelTotal);
  after = add(after, ztunnelTotal);
  const saved = { cpu: now.cpu - after.cpu, memory: now.memory - after.memory };
  return {
    prices,
    namespaces,
    ztunnel,
    now,
    after,
    saved,
    nowMonthly: monthlyCost(now, prices),
    afterMonthly: monthlyCost(after, prices),
    savedMonthly: monthlyCost(saved, prices),
  };
}
