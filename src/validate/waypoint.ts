// Waypoint rules (../../shared/docs/istio-ambient-semantics.md section 3): the waypoint Gateways
// themselves, the objects that bind to them, and changes that take a waypoint in use away (waypoint-in-use.ts).
import { quoted } from '../client-text.js';
import { SNAPSHOT_GROUPS } from '../cluster/snapshot.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { ValidationContext, ValidationInput, Validator } from './index.js';
import { bindingKindOf, present, validateWaypointBinding } from './waypoint-binding.js';
import { isMeshListener, listenersOf, MESH_LISTENER, MESH_LISTENER_YAML, WAYPOINT_FOR_VALUES, waypointRole } from './waypoint-gateway.js';
import { gatewayClassChangeInUse, waypointChangeInUse, waypointInUse } from './waypoint-in-use.js';

const GATEWAY_API = SNAPSHOT_GROUPS.Gateway;

export const validateWaypoints: Validator = (input, ctx) => {
  const isGatewayApi = (kind: string) => input.group === GATEWAY_API && input.kind === kind;
  if (input.operation === 'DELETE')
    return isGatewayApi('Gateway') ? waypointInUse(input, ctx) : isGatewayApi('GatewayClass') ? gatewayClassChangeInUse(input, ctx) : [];
  const object = input.object;
  if ((input.operation !== 'CREATE' && input.operation !== 'UPDATE') || !isRecord(object)) return [];
  if (isGatewayApi('Gateway'))
    return [...validateWaypointGateway(object, input, ctx), ...(input.operation === 'UPDATE' ? waypointChangeInUse(object, input, ctx) : [])];
  if (isGatewayApi('GatewayClass'))
    return [...present(waypointForInvalid(object, ctx)), ...(input.operation === 'UPDATE' ? gatewayClassChangeInUse(input, ctx) : [])];
  const binding = bindingKindOf(input);
  return binding ? validateWaypointBinding(binding, input, ctx) : [];
};

function validateWaypointGateway(gateway: KubeObject, input: ValidationInput, ctx: ValidationContext): Finding[] {
  const role = waypointRole(gateway, ctx.snapshot, ctx.policy.istioVersion);
  const isWaypoint = role === 'istio-waypoint' || role === 'other-waypoint';
  return present(
    waypointForInvalid(gateway, ctx),
    isWaypoint ? nameReserved(gateway, input, ctx) : undefined,
    role === 'istio-waypoint' ? listenerInvalid(gateway, ctx) : undefined,
  );
}

function waypointForInvalid(object: KubeObject, ctx: ValidationContext): Finding | undefined {
  const labels = labelsOf(object);
  if (!Object.hasOwn(labels, ISTIO.waypointFor)) return undefined;
  const value = labels[ISTIO.waypointFor];
  if ((WAYPOINT_FOR_VALUES as readonly string[]).includes(value)) return undefined;
  return finding(ctx.policy, 'waypoint-for-invalid', `metadata.labels["${ISTIO.waypointFor}"]`,
    `${ISTIO.waypointFor}=${quoted(value)} is not a valid value, and istiod binds nothing to such a waypoint (UnsupportedTrafficType); use one of ${WAYPOINT_FOR_VALUES.join(', ')} (service is the default).`);
}

function nameReserved(gateway: KubeObject, input: ValidationInput, ctx: ValidationContext): Finding | undefined {
  if ((nameOf(gateway) ?? input.name) !== 'none') return undefined;
  return finding(ctx.policy, 'waypoint-name-reserved', 'metadata.name',
    `a waypoint cannot be named "none": ${ISTIO.useWaypoint}=none means "no waypoint", so nothing can ever bind to it. Rename it (istioctl's default name is "waypoint").`);
}

function listenerInvalid(gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  const listeners = listenersOf(gateway);
  if (listeners.some(isMeshListener)) return undefined;
  const index = listeners.findIndex((l) => isRecord(l) && l.name === MESH_LISTENER.name);
  const why = 'istiod marks any other listener Accepted=False (UnsupportedProtocol) and ztunnel cannot reach the waypoint';
  if (index >= 0) {
    const l = listeners[index] as Record<string, unknown>;
    return finding(ctx.policy, 'waypoint-listener-invalid', `spec.listeners[${index}]`,
      `the waypoint's listener "${MESH_LISTENER.name}" has port ${JSON.stringify(l.port ?? null)} and protocol ${JSON.stringify(l.protocol ?? null)}, but a waypoint listens on port ${MESH_LISTENER.port} with protocol ${MESH_LISTENER.protocol}; ${why}. Set it to ${MESH_LISTENER_YAML}, as istioctl waypoint generate writes it.`);
  }
  return finding(ctx.policy, 'waypoint-listener-invalid', 'spec.listeners',
    `a waypoint (class istio-waypoint) needs the listener ${MESH_LISTENER_YAML}; ${why}. Add that listener to spec.listeners, as istioctl waypoint generate writes it.`);
}
