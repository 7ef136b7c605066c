// Where an AuthorizationPolicy is enforced and how to point it at a waypoint: shared by the
// AuthorizationPolicy rules (authorization-policy.ts) and the ztunnel rules (authz-ztunnel.ts).
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { nameOf } from '../kube.js';
import type { Policy } from '../policy/types.js';
import { namespaceWaypoint, waypointsIn } from './waypoint-gateway.js';

export const GATEWAY_API = 'gateway.networking.k8s.io';

export const isSet = (value: unknown) => value !== undefined && value !== null;
export const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Whether the policy is bound by targetRef(s): then waypoints enforce it and ztunnel ignores it. */
export const hasTargetRefs = (spec: Record<string, unknown>) => isSet(spec.targetRef) || listOf(spec.targetRefs).length > 0;

export function waypointNames(snapshot: ClusterSnapshot, namespace: string, policy: Policy): string[] {
  return waypointsIn(snapshot, namespace, policy.istioVersion).map(nameOf).filter((n): n is string => !!n);
}

export function targetRefsFix(snapshot: ClusterSnapshot, namespace: string, policy: Policy): string {
  if (namespace === policy.rootNamespace)
    return `spec.targetRefs: [{kind: GatewayClass, group: ${GATEWAY_API}, name: istio-waypoint}] (in the root namespace a GatewayClass target applies the policy to every waypoint of that class), or move the policy to a waypoint's namespace and target that waypoint`;
  const waypoint = namespaceWaypoint(snapshot, namespace, policy.istioVersion);
  const refs = `spec.targetRefs: [{kind: Gateway, group: ${GATEWAY_API}, name: ${waypoint?.name ?? 'waypoint'}}]`;
  if (!waypoint) return `${refs} after deploying a waypoint (istioctl waypoint apply -n ${namespace} --enroll-namespace)`;
  if (waypoint.namespace !== namespace)
    return `${refs} in a policy in namespace "${waypoint.namespace}", where the waypoint runs (targetRefs cannot cross namespaces)`;
  return refs;
}
