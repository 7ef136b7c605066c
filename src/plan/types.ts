import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';

export const VERDICTS = ['ready', 'needs-waypoint', 'stays-sidecar', 'not-in-mesh', 'already-ambient'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What the plan reads: the rules' snapshot (Namespaces, Gateways, Services, ...) and the other objects it needs. */
export interface PlanInput {
  snapshot: ClusterSnapshot;
  /** Pods, Istio configuration (AuthorizationPolicy, EnvoyFilter, ...), DaemonSets and Nodes, of any namespace. */
  objects: KubeObject[];
  /** Only these namespaces (all namespaces with pods or a Namespace object when empty). */
  namespaces?: string[];
}

/**
 * How a reason weighs on the verdict: `waypoint` (the namespace moves once a waypoint exists and the
 * object is rewritten or applied there), `blocks` (only a sidecar can do it), `note` (changes nothing
 * but the reader should know).
 */
export type Effect = 'waypoint' | 'blocks' | 'note';

export const REASON_IDS = [
  'authz-l7-selector',
  'authz-action-unsupported',
  'authz-ztunnel-drops-field',
  'authz-moves-with-waypoint',
  'request-authentication-selector',
  'telemetry-selector',
  'wasmplugin-selector',
  'virtualservice-l7',
  'destinationrule-l7',
  'envoyfilter-workload',
  'sidecar-resource-egress-policy',
  'sidecar-resource-scope',
  'peerauthentication-disable',
  'mesh-wide-l7-policy',
  'rewrite-not-exact',
  'pod-stays-sidecar',
] as const;
export type ReasonId = (typeof REASON_IDS)[number];

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface PlanReason {
  id: ReasonId;
  effect: Effect;
  object: ObjectRef;
  /** Field path in the object, when the reason is about one field. */
  path?: string;
  message: string;
}

/** A workload, named by the object that owns its pods (a Deployment for a ReplicaSet's pods). */
export interface Workload {
  kind: string;
  name: string;
  pods: number;
}

export interface ModeCounts {
  sidecar: number;
  ambient: number;
  none: number;
}

/** Set on the objects the plan writes, naming the object each one replaces or stands beside. */
export const MIGRATED_FROM = 'meshguard.io/migrated-from';
