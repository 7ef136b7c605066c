// Rules for objects that bind to a waypoint with `istio.io/use-waypoint`: the waypoint exists, is a
// waypoint, serves this kind of traffic, and lets this namespace attach. Mirrors istiod's
// fetchWaypointForTarget / fetchWaypointForService / fetchWaypointForWorkload
// (pilot/pkg/serviceregistry/ambient/waypoints.go).
import { clientText, quoted } from '../client-text.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf, namespaceOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { ValidationContext, ValidationInput } from './index.js';
import { matchesLabelSelector } from './label-selector.js';
import {
  attachmentListener,
  className,
  effectiveWaypointFor,
  gatewayRef,
  MESH_LISTENER_YAML,
  WAYPOINT_FOR_VALUES,
  waypointRole,
  waypointsIn,
} from './waypoint-gateway.js';

export type BindingKind = 'Namespace' | 'Service' | 'ServiceEntry' | 'Pod';

/**
 * The waypoint-for values each binding kind can use. A Namespace's label applies to both the
 * Services and the workloads in it, and istiod binds each to the waypoint only when it serves that
 * traffic: the usual namespace waypoint is for `service` (istioctl waypoint apply --enroll-namespace),
 * and `workload` or `all` are as deliberate. Only `none` (and an invalid value) leaves every object in
 * the namespace without its waypoint, so only those are reported for a Namespace.
 */
const BINDINGS: Record<BindingKind, { group: string; serves: readonly string[] }> = {
  Namespace: { group: '', serves: ['service', 'workload', 'all'] },
  Service: { group: '', serves: ['service', 'all'] },
  ServiceEntry: { group: 'networking.istio.io', serves: ['service', 'all'] },
  Pod: { group: '', serves: ['workload', 'all'] },
};

const USE_PATH = `metadata.labels["${ISTIO.useWaypoint}"]`;
const NAMESPACE_PATH = `metadata.labels["${ISTIO.useWaypointNamespace}"]`;
/** Set by the apiserver on every Namespace, so selectors can always match on the name. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const LIST_MAX = 5;

export function bindingKindOf(input: ValidationInput): BindingKind | undefined {
  const kind = input.kind as BindingKind;
  return Object.hasOwn(BINDINGS, kind) && BINDINGS[kind].group === input.group ? kind : undefined;
}

interface Binding {
  kind: BindingKind;
  object: KubeObject;
  waypoint: string;
  /** The namespace the object lives in (a Namespace: itself). */
  ownNamespace: string;
  waypointNamespace: string;
}

export function validateWaypointBinding(kind: BindingKind, input: ValidationInput, ctx: ValidationContext): Finding[] {
  const object = input.object;
  if (!object) return [];
  const labels = labelsOf(object);
  const waypoint = labels[ISTIO.useWaypoint];
  // `none` opts out; without Gateway API nothing can be checked (and nothing could be a waypoint).
  if (waypoint === undefined || waypoint === 'none' || !ctx.snapshot.has('Gateway')) return [];
  const ownNamespace =
    kind === 'Namespace' ? (nameOf(object) ?? input.name ?? '') : (input.namespace ?? namespaceOf(object) ?? 'default');
  // istiod takes the namespace label whenever it is present, even empty.
  const waypointNamespace = labels[ISTIO.useWaypointNamespace] ?? ownNamespace;
  const binding: Binding = { kind, object, waypoint, ownNamespace, waypointNamespace };

  const gateway = ctx.snapshot.gateway(waypointNamespace, waypoint);
  if (!gateway) return present(missing(binding, ctx));
  if (waypointRole(gateway, ctx.snapshot, ctx.policy.istioVersion) === 'not-waypoint') return present(notAWaypoint(binding, gateway, ctx));
  return present(forMismatch(binding, gateway, ctx), crossNamespaceDenied(binding, gateway, ctx));
}

/** The findings that rules returned (a rule the policy turns off returns undefined). */
export const present = (...findings: Array<Finding | undefined>) => findings.filter((f): f is Finding => f !== undefined);

function missing(b: Binding, ctx: ValidationContext): Finding | undefined {
  // A Namespace being created cannot contain its own waypoint yet; the Gateway comes right after it.
  if (b.kind === 'Namespace' && b.waypointNamespace === b.ownNamespace && !ctx.snapshot.namespace(b.ownNamespace)) return undefined;
  if (b.waypoint === '')
    return finding(ctx.policy, 'waypoint-missing', USE_PATH,
      `${ISTIO.useWaypoint} is empty; set it to the name of a waypoint Gateway, or to "none" to opt out.`);
  const existing = waypointsIn(ctx.snapshot, b.waypointNamespace, ctx.policy.istioVersion).map((g) => nameOf(g) ?? '');
  const where = b.waypointNamespace === b.ownNamespace ? '' : ` (from ${ISTIO.useWaypointNamespace})`;
  const known = existing.length
    ? ` Waypoints in ${quoted(b.waypointNamespace)}: ${listed(existing)}.`
    : ` There is no waypoint in ${quoted(b.waypointNamespace)}.`;
  return finding(ctx.policy, 'waypoint-missing', USE_PATH,
    `${ISTIO.useWaypoint}=${quoted(b.waypoint)} names no existing Gateway: there is no Gateway ${quoted(b.waypoint)} in namespace ${quoted(b.waypointNamespace)}${where}, so istiod reports WaypointIsNotReady and traffic skips L7 policy.${known} Create it first (istioctl waypoint apply -n ${clientText(b.waypointNamespace)} --name ${clientText(b.waypoint)}), fix the name, or set the label to "none" to opt out.`);
}

function notAWaypoint(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  return finding(ctx.policy, 'waypoint-not-a-waypoint', USE_PATH,
    `${ISTIO.useWaypoint}=${quoted(b.waypoint)} names Gateway ${gatewayRef(gateway)} of class "${className(gateway) ?? ''}", which is an ingress or egress gateway, not a waypoint: traffic would be sent to it over HBONE and fail. Point the label at a Gateway of class istio-waypoint (istioctl waypoint apply -n ${clientText(b.waypointNamespace)}).`);
}

function forMismatch(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  const { value, source } = effectiveWaypointFor(gateway, ctx.snapshot);
  const { serves } = BINDINGS[b.kind];
  if (serves.includes(value)) return undefined;
  const ref = gatewayRef(gateway);
  const isValid = (WAYPOINT_FOR_VALUES as readonly string[]).includes(value) && value !== 'none';
  const suggestion = isValid ? 'all' : b.kind === 'Pod' ? 'workload' : 'service';
  const problem =
    value === 'none'
      ? `waypoint ${ref} is for "none" (${source}), so nothing binds to it`
      : !isValid
        ? `waypoint ${ref} has ${ISTIO.waypointFor}=${quoted(value)} (${source}), which is not one of ${WAYPOINT_FOR_VALUES.join(', ')}, so istiod binds nothing to it (UnsupportedTrafficType)`
        : `waypoint ${ref} is for ${value} traffic only (${source}), but a ${b.kind} binds only to a waypoint for ${serves.join(' or ')} (istiod reports UnsupportedTrafficType)`;
  return finding(ctx.policy, 'waypoint-for-mismatch', USE_PATH,
    `${problem}; this ${b.kind} would get no waypoint. Set ${ISTIO.waypointFor}=${suggestion} on the Gateway, or use a waypoint that serves ${serves.join(' or ')}.`);
}

function crossNamespaceDenied(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  if (b.waypointNamespace === b.ownNamespace) return undefined;
  const attachment = attachmentListener(gateway, ctx.snapshot);
  const namespaces = attachment && isRecord(attachment.listener.allowedRoutes) ? attachment.listener.allowedRoutes.namespaces : undefined;
  const from = isRecord(namespaces) ? namespaces.from : undefined;
  if (from === 'All') return undefined;
  const listenerPath = attachment ? `spec.listeners[${attachment.index}]` : '';
  let reason: string;
  if (!attachment) {
    reason = `it has no ${MESH_LISTENER_YAML} listener, so only its own namespace may use it`;
  } else if (from === 'Selector') {
    const usingNamespace = b.kind === 'Namespace' ? b.object : ctx.snapshot.namespace(b.ownNamespace);
    // Without the namespace's labels the selector cannot be judged; better silent than wrong.
    if (!usingNamespace) return undefined;
    const labels = { ...labelsOf(usingNamespace), [NAMESPACE_NAME_LABEL]: b.ownNamespace };
    if (matchesLabelSelector(isRecord(namespaces) ? namespaces.selector : undefined, labels)) return undefined;
    reason = `${listenerPath}.allowedRoutes.namespaces.selector does not match the labels of namespace ${quoted(b.ownNamespace)}`;
  } else {
    reason = `${listenerPath}.allowedRoutes.namespaces.from is ${from === undefined ? 'Same (the default)' : quoted(from)}, which admits only its own namespace`;
  }
  const fix = attachment
    ? `On the waypoint, set ${listenerPath}.allowedRoutes.namespaces.from: All, or from: Selector with a selector matching this namespace (e.g. matchLabels {${NAMESPACE_NAME_LABEL}: ${clientText(b.ownNamespace)}})`
    : `Add the listener ${MESH_LISTENER_YAML} with allowedRoutes.namespaces.from: All (or Selector) to the waypoint`;
  return finding(ctx.policy, 'waypoint-cross-namespace-denied', NAMESPACE_PATH,
    `waypoint ${gatewayRef(gateway)} does not accept bindings from namespace ${quoted(b.ownNamespace)}: ${reason}. istiod reports AttachmentDenied and this ${b.kind} would get no waypoint. ${fix}; or use a waypoint in ${quoted(b.ownNamespace)}.`);
}

function listed(names: string[]): string {
  const shown = names.slice(0, LIST_MAX).join(', ');
  return names.length > LIST_MAX ? `${shown} and ${names.length - LIST_MAX} more` : shown;
}
