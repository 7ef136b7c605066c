import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf, namespaceOf, parseApiVersion } from '../kube.js';
import type { Workload } from './types.js';

/** The kinds the plan reads beside the snapshot, by API group. */
export const PLAN_KINDS = {
  Pod: '',
  Node: '',
  DaemonSet: 'apps',
  AuthorizationPolicy: 'security.istio.io',
  RequestAuthentication: 'security.istio.io',
  PeerAuthentication: 'security.istio.io',
  EnvoyFilter: 'networking.istio.io',
  Sidecar: 'networking.istio.io',
  VirtualService: 'networking.istio.io',
  DestinationRule: 'networking.istio.io',
  WasmPlugin: 'extensions.istio.io',
  Telemetry: 'telemetry.istio.io',
} as const;
export type PlanKind = keyof typeof PLAN_KINDS;

export function planKindOf(obj: KubeObject): PlanKind | undefined {
  const kind = obj.kind as PlanKind;
  if (!Object.hasOwn(PLAN_KINDS, kind)) return undefined;
  return parseApiVersion(obj.apiVersion).group === PLAN_KINDS[kind] ? kind : undefined;
}

/** The plan's objects indexed by namespace and kind (cluster-scoped ones under ''). */
export class Inventory {
  private readonly byNs = new Map<string, Map<PlanKind, KubeObject[]>>();

  constructor(objects: KubeObject[]) {
    for (const obj of objects) {
      const kind = planKindOf(obj);
      if (!kind || !nameOf(obj)) continue;
      const ns = kind === 'Node' ? '' : (namespaceOf(obj) ?? 'default');
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

/**
 * The workload that owns a pod: a ReplicaSet's pods belong to the Deployment whose name the
 * ReplicaSet carries before its `-<pod-template-hash>` suffix; a pod without a controller is its own.
 */
export function ownerOf(pod: KubeObject): { kind: string; name: string } {
  const refs = isRecord(pod.metadata) && Array.isArray(pod.metadata.ownerReferences) ? pod.metadata.ownerReferences : [];
  const ref: unknown = refs.find((r) => isRecord(r) && r.controller === true) ?? refs.find(isRecord);
  if (!isRecord(ref) || typeof ref.kind !== 'string' || typeof ref.name !== 'string') return { kind: 'Pod', name: nameOf(pod) ?? '' };
  const hash = labelsOf(pod)['pod-template-hash'];
  if (ref.kind === 'ReplicaSet' && hash && ref.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: ref.name.slice(0, -hash.length - 1) };
  return { kind: ref.kind, name: ref.name };
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
