import { RESOURCES, type Resource } from '../cluster/resources.js';
import type { KubeObject } from '../kube.js';
import { isRecord, nameOf, namespaceOf, parseApiVersion } from '../kube.js';
import { ownerOf } from '../workload-owner.js';
import type { Workload } from './types.js';

export { ownerOf };

const JUDGED_KINDS = ['Namespace', 'Pod', 'AuthorizationPolicy', 'VirtualService', 'DestinationRule', 'Sidecar'] as const;
export type PlanKind =
  | (typeof JUDGED_KINDS)[number]
  | 'RequestAuthentication' | 'PeerAuthentication' | 'EnvoyFilter' | 'WasmPlugin' | 'Telemetry' | 'DaemonSet' | 'Node';

/**
 * The kinds the plan reads beside the snapshot: the judged kinds it needs (from the reader's
 * RESOURCES; Namespaces too, so one without pods is planned) and the workload-selected Istio kinds,
 * ztunnel's DaemonSet and the Nodes.
 */
export const PLAN_RESOURCES: ReadonlyArray<Resource & { kind: PlanKind }> = [
  ...RESOURCES.filter((r): r is Resource & { kind: PlanKind } => (JUDGED_KINDS as readonly string[]).includes(r.kind)),
  { kind: 'RequestAuthentication', group: 'security.istio.io', version: 'v1', plural: 'requestauthentications', namespaced: true },
  { kind: 'PeerAuthentication', group: 'security.istio.io', version: 'v1', plural: 'peerauthentications', namespaced: true },
  // EnvoyFilter and WasmPlugin have no v1 (istio-ambient-semantics.md section 6).
  { kind: 'EnvoyFilter', group: 'networking.istio.io', version: 'v1alpha3', plural: 'envoyfilters', namespaced: true },
  { kind: 'WasmPlugin', group: 'extensions.istio.io', version: 'v1alpha1', plural: 'wasmplugins', namespaced: true },
  { kind: 'Telemetry', group: 'telemetry.istio.io', version: 'v1', plural: 'telemetries', namespaced: true },
  { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true },
  { kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false },
];

export function planKindOf(obj: KubeObject): PlanKind | undefined {
  const { group } = parseApiVersion(obj.apiVersion);
  return PLAN_RESOURCES.find((r) => r.kind === obj.kind && r.group === group)?.kind;
}

/** The plan's objects indexed by namespace and kind (cluster-scoped ones under ''). */
export class Inventory {
  private readonly byNs = new Map<string, Map<PlanKind, KubeObject[]>>();

  constructor(objects: KubeObject[]) {
    for (const obj of objects) {
      const kind = planKindOf(obj);
      if (!kind || !nameOf(obj)) continue;
      const ns = kind === 'Node' || kind === 'Namespace' ? '' : (namespaceOf(obj) ?? 'default');
      let kinds = this.byNs.get(ns);
      if (!kinds) this.byNs.set(ns, (kinds = new Map<PlanKind, KubeObject[]>()));
      let list = kinds.get(kind);
      if (!list) kinds.set(kind, (list = []));
      list.push(obj);
    }
  }

  of(namespace: string, kind: PlanKind): KubeObject[] {
    return this.byNs.get(namespace)?.get(kind) ?? [];
  }

  all(kind: PlanKind): KubeObject[] {
    return [...this.byNs.values()].flatMap((kinds) => kinds.get(kind) ?? []);
  }

  namespaces(): string[] {
    return [...this.byNs.keys()].filter((ns) => ns !== '');
  }
}

/** Pods grouped by owning workload, sorted by kind and name. */
export function workloadsOf(pods: KubeObject[]): Workload[] {
  const counts = new Map<string, Workload>();
  for (const pod of pods) {
    const { kind, name } = ownerOf(pod);
    const key = `${kind}/${name}`;
    const w = counts.get(key);
    if (w) w.pods++;
    else counts.set(key, { kind, name, pods: 1 });
  }
  return [...counts.values()].sort((a, b) => (a.kind + '/' + a.name < b.kind + '/' + b.name ? -1 : 1));
}

/**
 * A policy's workload selector: `selector.matchLabels` (AuthorizationPolicy, RequestAuthentication,
 * PeerAuthentication, Telemetry, WasmPlugin) or `workloadSelector.labels` (EnvoyFilter, Sidecar).
 * undefined when the object has none, which makes it namespace-wide.
 */
export function workloadSelectorOf(obj: KubeObject): Record<string, unknown> | undefined {
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const labels = isRecord(spec.selector) ? spec.selector.matchLabels : isRecord(spec.workloadSelector) ? spec.workloadSelector.labels : undefined;
  return isRecord(labels) && Object.keys(labels).length > 0 ? labels : undefined;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Keeps what the plan reads of an object, so 100,000 pods stay small: a Pod's labels, annotations,
 * owners, node, hostNetwork and its containers' names and resources; of anything else, all but
 * managedFields and the last-applied copy.
 */
export function trimForPlan(obj: KubeObject): KubeObject {
  const meta: Record<string, unknown> = isRecord(obj.metadata) ? obj.metadata : {};
  const annotations = isRecord(meta.annotations) ? { ...meta.annotations } : undefined;
  if (annotations) delete annotations[LAST_APPLIED];
  const metadata = {
    name: nameOf(obj),
    namespace: namespaceOf(obj),
    ...(isRecord(meta.labels) && { labels: meta.labels }),
    ...(annotations && { annotations }),
    ...(Array.isArray(meta.ownerReferences) && { ownerReferences: meta.ownerReferences }),
  };
  if (obj.kind !== 'Pod' || obj.apiVersion !== 'v1') return { ...obj, metadata: metadata as KubeObject['metadata'] };
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const slim = (list: unknown) =>
    Array.isArray(list) ? list.filter(isRecord).map((c) => ({ name: c.name, ...(isRecord(c.resources) && { resources: c.resources }) })) : undefined;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: metadata as KubeObject['metadata'],
    spec: {
      ...(spec.hostNetwork === true && { hostNetwork: true }),
      ...(typeof spec.nodeName === 'string' && { nodeName: spec.nodeName }),
      containers: slim(spec.containers) ?? [],
      ...(Array.isArray(spec.initContainers) && { initContainers: slim(spec.initContainers) }),
    },
  };
}
