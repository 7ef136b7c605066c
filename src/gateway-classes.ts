// Which Gateway API classes are Istio's and which of them are waypoints, decided by the class's
// controllerName as istiod decides it (pilot/pkg/config/kube/gatewaycommon/classinfo.go:
// GetBuiltinGatewayClasses, GetAgentGatewayClasses, GetClassInfos; the names in
// pkg/config/constants/constants.go). One definition, used by the snapshot, every waypoint rule
// and the AuthorizationPolicy rules.
import { inRange, type VersionRange } from './istio-version.js';
import type { KubeObject } from './kube.js';
import { isRecord } from './kube.js';
import { WAYPOINT_CLASS } from './labels.js';

export const CONTROLLERS = {
  gateway: 'istio.io/gateway-controller',
  mesh: 'istio.io/mesh-controller',
  eastWest: 'istio.io/eastwest-controller',
  unmanaged: 'istio.io/unmanaged-gateway',
  agentgateway: 'istio.io/agentgateway-controller',
  agentgatewayWaypoint: 'istio.io/agentgateway-waypoint-controller',
} as const;

/**
 * Controllers of the waypoints istiod deploys itself (template "waypoint" / "agentgateway-waypoint"):
 * their Gateways need the HBONE listener on 15008.
 */
export const WAYPOINT_CONTROLLERS: readonly string[] = [CONTROLLERS.mesh, CONTROLLERS.agentgatewayWaypoint];
/** Istio's controllers whose Gateways are ingress, remote or east-west gateways, never waypoints. */
export const NON_WAYPOINT_CONTROLLERS: readonly string[] = [CONTROLLERS.gateway, CONTROLLERS.unmanaged, CONTROLLERS.eastWest, CONTROLLERS.agentgateway];

/**
 * The classes istiod creates (by name), for when the GatewayClass object itself is not known, as in
 * `meshguard check` over manifests. agentgateway classes sit behind PILOT_ENABLE_AGENTGATEWAY.
 */
export const BUILTIN_CLASSES: ReadonlyArray<{ name: string; controller: string; versions?: VersionRange }> = [
  { name: 'istio', controller: CONTROLLERS.gateway },
  { name: WAYPOINT_CLASS, controller: CONTROLLERS.mesh },
  { name: 'istio-remote', controller: CONTROLLERS.unmanaged },
  { name: 'istio-east-west', controller: CONTROLLERS.eastWest },
  { name: 'istio-agentgateway', controller: CONTROLLERS.agentgateway, versions: { since: '1.29' } },
  { name: 'istio-agentgateway-waypoint', controller: CONTROLLERS.agentgatewayWaypoint, versions: { since: '1.31' } },
];

export function gatewayClassName(gateway: KubeObject | undefined): string | undefined {
  const name = isRecord(gateway?.spec) ? gateway.spec.gatewayClassName : undefined;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The controller of a class: the GatewayClass's own controllerName, else (class not known, or
 * without the required controllerName) Istio's built-in class of that name.
 */
export function classController(className: string | undefined, gatewayClass: KubeObject | undefined, istioVersion: string): string | undefined {
  const own = isRecord(gatewayClass?.spec) ? gatewayClass.spec.controllerName : undefined;
  if (typeof own === 'string') return own;
  if (className === undefined) return undefined;
  return BUILTIN_CLASSES.find((c) => c.name === className && inRange(istioVersion, c.versions))?.controller;
}

export const isWaypointController = (controller: string | undefined) => controller !== undefined && WAYPOINT_CONTROLLERS.includes(controller);
