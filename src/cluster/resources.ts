import { SNAPSHOT_GROUPS, SNAPSHOT_KINDS, type SnapshotKind } from './snapshot.js';

/** A kind meshguard has rules for, with the REST coordinates to list it. */
export interface Resource {
  kind: string;
  group: string;
  /** The served version meshguard reads: Gateway API v1, Istio v1 (Istio 1.22+), core v1. */
  version: string;
  plural: string;
  namespaced: boolean;
}

/**
 * Every kind the webhooks judge (validate/index.ts VALIDATED_KINDS, and Pods through the mode
 * decision), in reading order: the snapshot kinds first, so a complete snapshot exists before the
 * first object is evaluated.
 */
export const RESOURCES: readonly Resource[] = [
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', namespaced: false },
  { kind: 'Gateway', group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways', namespaced: true },
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true },
  { kind: 'ServiceEntry', group: 'networking.istio.io', version: 'v1', plural: 'serviceentries', namespaced: true },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies', namespaced: true },
  { kind: 'VirtualService', group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', namespaced: true },
  { kind: 'DestinationRule', group: 'networking.istio.io', version: 'v1', plural: 'destinationrules', namespaced: true },
  { kind: 'Sidecar', group: 'networking.istio.io', version: 'v1', plural: 'sidecars', namespaced: true },
  { kind: 'Gateway', group: 'networking.istio.io', version: 'v1', plural: 'gateways', namespaced: true },
];

export const apiVersionOf = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);

/** The REST path of a resource's collection, cluster-wide or in one namespace. */
export function collectionPath(r: Pick<Resource, 'group' | 'version' | 'plural'>, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace === undefined ? `${base}/${r.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
}

/** `Gateway.gateway.networking.k8s.io`, `Pod`: how kubectl names a kind unambiguously. */
export const resourceName = (r: Pick<Resource, 'kind' | 'group'>) => (r.group ? `${r.kind}.${r.group}` : r.kind);

/** The resource of a snapshot kind. */
export function snapshotResource(kind: SnapshotKind): Resource {
  return RESOURCES.find((r) => r.kind === kind && r.group === SNAPSHOT_GROUPS[kind])!;
}

/** The snapshot kind a resource fills, if any. */
export function snapshotKindOfResource(r: Resource): SnapshotKind | undefined {
  const kind = r.kind as SnapshotKind;
  return SNAPSHOT_KINDS.includes(kind) && SNAPSHOT_GROUPS[kind] === r.group ? kind : undefined;
}
