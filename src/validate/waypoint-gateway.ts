// What istiod reads from a Gateway API Gateway when it acts as a waypoint
// (pilot/pkg/serviceregistry/ambient/waypoints.go since 1.30; before, under
// pilot/pkg/serviceregistry/kube/controller/ambient/). Pure helpers over untrusted objects.
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf, nameOf, namespaceOf } from '../kube.js';
import { classController, gatewayClassName, isWaypointController, NON_WAYPOINT_CONTROLLERS } from '../gateway-classes.js';
import { ISTIO } from '../labels.js';

export const WAYPOINT_FOR_VALUES = ['service', 'workload', 'all', 'none'] as const;

/** The listener `istioctl waypoint generate` writes; istiod matches it by port and protocol only. */
export const MESH_LISTENER = { name: 'mesh', port: 15008, protocol: 'HBONE' } as const;
export const MESH_LISTENER_YAML = '{name: mesh, port: 15008, protocol: HBONE}';

/** Set by third-party waypoints (kgateway, agentgateway) and the "gateway sandwich" on a Gateway or GatewayClass. */
const INBOUND_BINDING = 'ambient.istio.io/waypoint-inbound-binding';

export const className = gatewayClassName;

export function gatewayRef(gateway: KubeObject): string {
  return `${namespaceOf(gateway) ?? 'default'}/${nameOf(gateway) ?? ''}`;
}

/**
 * How sure we are that a Gateway is meant as a waypoint. `istio-waypoint`: its class's controller is
 * one of Istio's waypoint controllers (gateway-classes.ts). istiod lets `use-waypoint` name a Gateway
 * of any class (third-party waypoints, the gateway sandwich), so only Istio's own ingress, remote and
 * east-west controllers are known not to be waypoints; a class meshguard cannot see is given the
 * benefit of the doubt.
 */
export type WaypointRole = 'istio-waypoint' | 'other-waypoint' | 'not-waypoint' | 'unknown';

export function waypointRole(gateway: KubeObject, snapshot: ClusterSnapshot, istioVersion: string): WaypointRole {
  const name = className(gateway);
  const gatewayClass = name === undefined ? undefined : snapshot.gatewayClass(name);
  const controller = classController(name, gatewayClass, istioVersion);
  if (isWaypointController(controller)) return 'istio-waypoint';
  const declared = [gateway, gatewayClass].some(
    (o) => o !== undefined && (Object.hasOwn(labelsOf(o), ISTIO.waypointFor) || Object.hasOwn(annotationsOf(o), INBOUND_BINDING)),
  );
  if (declared) return 'other-waypoint';
  if (controller !== undefined && NON_WAYPOINT_CONTROLLERS.includes(controller)) return 'not-waypoint';
  return 'unknown';
}

export const isWaypointRole = (role: WaypointRole) => role === 'istio-waypoint' || role === 'other-waypoint';

/** The waypoints of a namespace, by name (for fix suggestions and messages). */
export function waypointsIn(snapshot: ClusterSnapshot, namespace: string, istioVersion: string): KubeObject[] {
  return snapshot
    .gateways(namespace)
    .filter((g) => isWaypointRole(waypointRole(g, snapshot, istioVersion)))
    .sort((a, b) => (nameOf(a) ?? '').localeCompare(nameOf(b) ?? ''));
}

/** The traffic a waypoint accepts: the Gateway's label, else its GatewayClass's, else `service`. */
export function effectiveWaypointFor(gateway: KubeObject, snapshot: ClusterSnapshot): { value: string; source: string } {
  const own = labelsOf(gateway);
  if (Object.hasOwn(own, ISTIO.waypointFor))
    return { value: own[ISTIO.waypointFor], source: `label ${ISTIO.waypointFor} on Gateway ${gatewayRef(gateway)}` };
  const name = className(gateway);
  const gatewayClass = name === undefined ? undefined : snapshot.gatewayClass(name);
  const classLabels = labelsOf(gatewayClass);
  if (Object.hasOwn(classLabels, ISTIO.waypointFor))
    return { value: classLabels[ISTIO.waypointFor], source: `label ${ISTIO.waypointFor} on GatewayClass ${name}` };
  return { value: 'service', source: `the default (no ${ISTIO.waypointFor} label on the Gateway or its class)` };
}

export function listenersOf(gateway: KubeObject): unknown[] {
  return isRecord(gateway.spec) && Array.isArray(gateway.spec.listeners) ? gateway.spec.listeners : [];
}

export function isMeshListener(listener: unknown): boolean {
  return isRecord(listener) && listener.port === MESH_LISTENER.port && listener.protocol === MESH_LISTENER.protocol;
}

/**
 * The listener whose `allowedRoutes` decides which namespaces may bind: the one the inbound-binding
 * annotation points at, else the HBONE listener on 15008; undefined means istiod's default, `Same`.
 */
export function attachmentListener(gateway: KubeObject, snapshot: ClusterSnapshot): { listener: Record<string, unknown>; index: number } | undefined {
  const listeners = listenersOf(gateway);
  const bound = inboundBinding(gateway, snapshot);
  const matchesBinding = (l: Record<string, unknown>) =>
    bound !== undefined && (bound.port !== 0 ? l.port === bound.port : bound.protocol === 'PROXY' && l.protocol === 'istio.io/PROXY');
  for (const match of [matchesBinding, isMeshListener]) {
    const index = listeners.findIndex((l) => isRecord(l) && match(l));
    if (index >= 0) return { listener: listeners[index] as Record<string, unknown>, index };
  }
  return undefined;
}

/** Parses `<protocol>` or `<protocol>/<port>` from the Gateway, else its GatewayClass (istiod's makeInboundBinding). */
function inboundBinding(gateway: KubeObject, snapshot: ClusterSnapshot): { protocol: string; port: number } | undefined {
  const name = className(gateway);
  const value =
    annotationsOf(gateway)[INBOUND_BINDING] ?? annotationsOf(name === undefined ? undefined : snapshot.gatewayClass(name))[INBOUND_BINDING];
  if (value === undefined) return undefined;
  const parts = value.split('/');
  if (parts.length > 2 || (parts[0] !== 'NONE' && parts[0] !== 'PROXY')) return undefined;
  const port = parts.length === 2 && /^\d+$/.test(parts[1]) ? Number(parts[1]) : 0;
  return { protocol: parts[0], port };
}

/** A namespace being deleted takes its Gateways with it; nothing to protect then. */
export function isTerminating(namespace: KubeObject | undefined): boolean {
  if (!namespace) return false;
  const deleting = isRecord(namespace.metadata) && typeof namespace.metadata.deletionTimestamp === 'string';
  return deleting || (isRecord(namespace.status) && namespace.status.phase === 'Terminating');
}

/** The waypoint a namespace's workloads use or would use: its use-waypoint label, else a waypoint in it. */
export function namespaceWaypoint(snapshot: ClusterSnapshot, namespace: string, istioVersion: string): { name: string; namespace: string } | undefined {
  const labels = labelsOf(snapshot.namespace(namespace));
  const named = labels[ISTIO.useWaypoint];
  if (named && named !== 'none') return { name: named, namespace: labels[ISTIO.useWaypointNamespace] || namespace };
  const first = waypointsIn(snapshot, namespace, istioVersion).map(nameOf).find((n): n is string => !!n);
  return first ? { name: first, namespace } : undefined;
}
