// Waypoint rules (../../shared/docs/istio-ambient-semantics.md section 3): the waypoint Gateways
// themselves, the objects that bind to them, and deleting a waypoint that is still in use.
import { quoted } from '../client-text.js';
import { SNAPSHOT_GROUPS, type WaypointReferrer } from '../cluster/snapshot.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf, namespaceOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { ValidationContext, ValidationInput, Validator } from './index.js';
import { bindingKindOf, present, validateWaypointBinding } from './waypoint-binding.js';
import { className, effectiveWaypointFor, isMeshListener, isTerminating, listenersOf, MESH_LISTENER, MESH_LISTENER_YAML, WAYPOINT_FOR_VALUES, waypointRole } from './waypoint-gateway.js';

const GATEWAY_API = SNAPSHOT_GROUPS.Gateway;
const REFERRERS_SHOWN = 10;

export const validateWaypoints: Validator = (input, ctx) => {
  const isGatewayApi = (kind: string) => input.group === GATEWAY_API && input.kind === kind;
  if (input.operation === 'DELETE') return isGatewayApi('Gateway') ? waypointInUse(input, ctx) : [];
  const object = input.object;
  if ((input.operation !== 'CREATE' && input.operation !== 'UPDATE') || !isRecord(object)) return [];
  if (isGatewayApi('Gateway'))
    return [...validateWaypointGateway(object, input, ctx), ...(input.operation === 'UPDATE' ? waypointChangeInUse(object, input, ctx) : [])];
  if (isGatewayApi('GatewayClass')) return present(waypointForInvalid(object, ctx));
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

function waypointInUse(input: ValidationInput, ctx: ValidationContext): Finding[] {
  const old = isRecord(input.oldObject) ? input.oldObject : undefined;
  const name = input.name ?? nameOf(old);
  const namespace = input.namespace ?? namespaceOf(old) ?? 'default';
  if (!name) return [];
  const gateway = old ?? ctx.snapshot.gateway(namespace, name);
  if (gateway && waypointRole(gateway, ctx.snapshot, ctx.policy.istioVersion) === 'not-waypoint') return [];
  if (isTerminating(ctx.snapshot.namespace(namespace))) return [];
  const referrers = ctx.snapshot.waypointReferrers(namespace, name);
  if (!referrers.length) return [];
  return present(
    finding(ctx.policy, 'waypoint-in-use', 'metadata.name',
      `waypoint ${namespace}/${name} is still used (${ISTIO.useWaypoint}) by ${listReferrers(referrers)}. Deleting it silently drops their L7 routing and authorization (istiod falls back to no waypoint). First remove the label from them or point it at another waypoint (e.g. kubectl label service NAME -n NAMESPACE ${ISTIO.useWaypoint}-), then delete the Gateway.`),
  );
}

function describe(ref: WaypointReferrer): string {
  const name = ref.namespace === undefined ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
  return ref.canary ? `${name} (as its canary)` : name;
}

function listReferrers(refs: WaypointReferrer[]): string {
  const names = refs.map(describe).sort();
  const shown = names.slice(0, REFERRERS_SHOWN).join(', ');
  const more = names.length > REFERRERS_SHOWN ? ` and ${names.length - REFERRERS_SHOWN} more` : '';
  return `${names.length} object${names.length === 1 ? '' : 's'}: ${shown}${more}`;
}

/**
 * What a referrer binds to (fetchWaypointForService / fetchWaypointForWorkload, resolveCanaryWaypoint):
 * a Namespace's label reaches its Services and workloads, so only a waypoint for none serves none of them.
 */
const referrerServes = (ref: WaypointReferrer) => (ref.kind === 'Namespace' && !ref.canary ? ['service', 'workload', 'all'] : ['service', 'all']);

/**
 * An UPDATE that takes a waypoint away from what uses it, refused like a DELETE: its class stops
 * being a waypoint class, or its waypoint-for stops serving what binds to it.
 */
function waypointChangeInUse(gateway: KubeObject, input: ValidationInput, ctx: ValidationContext): Finding[] {
  const old = isRecord(input.oldObject) ? input.oldObject : undefined;
  const name = nameOf(gateway) ?? input.name;
  const namespace = input.namespace ?? namespaceOf(gateway) ?? 'default';
  if (!old || !name) return [];
  const version = ctx.policy.istioVersion;
  if (waypointRole(old, ctx.snapshot, version) === 'not-waypoint') return [];
  const referrers = ctx.snapshot.waypointReferrers(namespace, name);
  if (!referrers.length) return [];
  const fix = `First point them at another waypoint or remove the label (e.g. kubectl label service NAME -n NAMESPACE ${ISTIO.useWaypoint}-), then change the Gateway.`;
  if (waypointRole(gateway, ctx.snapshot, version) === 'not-waypoint')
    return present(
      finding(ctx.policy, 'waypoint-in-use', 'spec.gatewayClassName',
        `this change makes waypoint ${namespace}/${name} a Gateway of class ${quoted(className(gateway) ?? '')}, which is not a waypoint, while ${listReferrers(referrers)} use it: istiod would drop it as their waypoint and their L7 routing and authorization with it. ${fix}`),
    );
  const before = effectiveWaypointFor(old, ctx.snapshot).value;
  const after = effectiveWaypointFor(gateway, ctx.snapshot).value;
  if (before === after) return [];
  const broken = referrers.filter((r) => referrerServes(r).includes(before) && !referrerServes(r).includes(after));
  if (!broken.length) return [];
  return present(
    finding(ctx.policy, 'waypoint-in-use', `metadata.labels["${ISTIO.waypointFor}"]`,
      `this change makes waypoint ${namespace}/${name} serve ${quoted(after)} instead of ${quoted(before)} traffic (${ISTIO.waypointFor}), which ${listReferrers(broken)} no longer bind to (istiod reports UnsupportedTrafficType and they get no waypoint). ${fix}`),
  );
}
