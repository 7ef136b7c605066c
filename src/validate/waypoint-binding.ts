// Rules for objects that bind to a waypoint with `istio.io/use-waypoint`: the waypoint exists, is a
// waypoint, serves this kind of traffic, and lets this namespace attach. Mirrors istiod's
// fetchWaypointForTarget / fetchWaypointForService / fetchWaypointForWorkload
// (pilot/pkg/serviceregistry/ambient/waypoints.go).
import { clientText, quoted } from '../client-text.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { inRange } from '../istio-version.js';
import { annotationsOf, isRecord, labelsOf, nameOf, namespaceOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import { RULE_VERSIONS } from '../rules.js';
import type { ValidationContext, ValidationInput } from './index.js';
import { matchesLabelSelector } from './label-selector.js';
import { SERVICE_ENTRY_VISIBILITY_VERSIONS, serviceEntryVisibility } from './service-entry-visibility.js';
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

const labelPath = (key: string) => `metadata.labels["${key}"]`;
const CANARY = { use: ISTIO.useWaypointCanary, namespace: ISTIO.useWaypointCanaryNamespace, weight: ISTIO.useWaypointCanaryWeight } as const;
/** The kinds buildWeightedWaypoints gives canaries to (Services and ServiceEntries, or through their Namespace). */
const CANARY_KINDS: readonly BindingKind[] = ['Namespace', 'Service', 'ServiceEntry'];
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
  /** The label that names the waypoint (use-waypoint, or use-waypoint-canary) and its namespace label. */
  useLabel: string;
  nsLabel: string;
  /** The waypoint-for values the binding accepts. */
  serves: readonly string[];
  waypoint: string;
  /** The namespace the object lives in (a Namespace: itself). */
  ownNamespace: string;
  waypointNamespace: string;
  /** The waypoint comes from the namespace's labels, not the object's own. */
  inherited?: true;
}

export function validateWaypointBinding(kind: BindingKind, input: ValidationInput, ctx: ValidationContext): Finding[] {
  const object = input.object;
  if (!object) return [];
  const labels = labelsOf(object);
  // Without Gateway API nothing can be checked (and nothing could be a waypoint).
  if (!ctx.snapshot.has('Gateway')) return [];
  const ownNamespace =
    kind === 'Namespace' ? (nameOf(object) ?? input.name ?? '') : (input.namespace ?? namespaceOf(object) ?? 'default');
  const withCanary = CANARY_KINDS.includes(kind) && Object.hasOwn(labels, CANARY.use);
  const waypoint = labels[ISTIO.useWaypoint];
  if (waypoint === undefined || waypoint === 'none') {
    // `none` opts out. Without a label of its own, a Service's canary goes with its namespace's
    // waypoint, and a ServiceEntry is bound to it only if its visibility allows.
    if (!withCanary && kind !== 'ServiceEntry') return [];
    const nsLabels = kind === 'Namespace' || waypoint === 'none' ? {} : labelsOf(ctx.snapshot.namespace(ownNamespace));
    const inherited = nsLabels[ISTIO.useWaypoint];
    if (inherited === undefined || inherited === 'none') return withCanary ? present(canaryWithoutPrimary(waypoint, ownNamespace, ctx)) : [];
    const primary: Binding = { kind, object, useLabel: ISTIO.useWaypoint, nsLabel: ISTIO.useWaypointNamespace, serves: BINDINGS[kind].serves, waypoint: inherited, ownNamespace, waypointNamespace: nsLabels[ISTIO.useWaypointNamespace] ?? ownNamespace, inherited: true };
    // The namespace's own label is judged with the Namespace; only what depends on this object is judged here.
    const gateway = ctx.snapshot.gateway(primary.waypointNamespace, primary.waypoint);
    const visibility = gateway ? present(visibilityForbidden(primary, gateway, ctx)) : [];
    return [...visibility, ...(withCanary ? canaryFindings(primary, ctx) : [])];
  }
  // istiod takes the namespace label whenever it is present, even empty.
  const waypointNamespace = labels[ISTIO.useWaypointNamespace] ?? ownNamespace;
  const binding: Binding = { kind, object, useLabel: ISTIO.useWaypoint, nsLabel: ISTIO.useWaypointNamespace, serves: BINDINGS[kind].serves, waypoint, ownNamespace, waypointNamespace };
  return [...resolve(binding, ctx), ...(CANARY_KINDS.includes(kind) ? canaryFindings(binding, ctx) : [])];
}

/** buildWeightedWaypoints gives no canary when there is no primary waypoint. */
function canaryWithoutPrimary(own: string | undefined, namespace: string, ctx: ValidationContext): Finding | undefined {
  const why = own === 'none'
    ? `${ISTIO.useWaypoint}=none opts this object out of waypoints`
    : `neither it nor namespace ${quoted(namespace)} names a primary waypoint with ${ISTIO.useWaypoint}`;
  return finding(ctx.policy, 'waypoint-canary-invalid', labelPath(CANARY.use),
    `${CANARY.use} has no effect: ${why}, and istiod sends canary traffic only beside a primary waypoint (buildWeightedWaypoints). Set ${ISTIO.useWaypoint} too, or remove the canary.`);
}

/** The checks istiod makes when it resolves a waypoint for a binding, one rule each. */
function resolve(b: Binding, ctx: ValidationContext): Finding[] {
  const gateway = ctx.snapshot.gateway(b.waypointNamespace, b.waypoint);
  if (!gateway) return present(missing(b, ctx));
  if (waypointRole(gateway, ctx.snapshot, ctx.policy.istioVersion) === 'not-waypoint') return present(notAWaypoint(b, gateway, ctx));
  return present(forMismatch(b, gateway, ctx), crossNamespaceDenied(b, gateway, ctx), visibilityForbidden(b, gateway, ctx));
}

/**
 * A waypoint canary (Istio 1.31; runs only from 1.31, see RULE_VERSIONS): istiod resolves it like
 * the primary, but always for Service traffic (resolveCanaryWaypoint), refuses one equal to the
 * primary and a weight that is not an integer from 0 to 100 (buildWeightedWaypoints,
 * getCanaryWeight in pilot/pkg/serviceregistry/ambient/waypoints.go), and on any error sends all
 * traffic to the primary. The object's own canary labels are judged here; a Namespace's when the
 * Namespace is.
 */
function canaryFindings(primary: Binding, ctx: ValidationContext): Finding[] {
  // The canary's resolution reports under the primary's rule ids, which hold for every version.
  if (!inRange(ctx.policy.istioVersion, RULE_VERSIONS['waypoint-canary-invalid'])) return [];
  const labels = labelsOf(primary.object);
  const out: Array<Finding | undefined> = [];
  const weight = annotationsOf(primary.object)[CANARY.weight];
  if (weight !== undefined && !validCanaryWeight(weight))
    out.push(finding(ctx.policy, 'waypoint-canary-invalid', `metadata.annotations["${CANARY.weight}"]`,
      `${CANARY.weight}=${quoted(weight)} is not an integer from 0 to 100, so istiod ignores the canary (WaypointCanaryInvalidWeight) and sends all traffic to the primary waypoint. Set the share of traffic for the canary, e.g. "10".`));
  const canary = labels[CANARY.use];
  // getUseWaypointCanary: absent, empty and "none" mean no canary.
  if (canary === undefined || canary === '' || canary === 'none') return present(...out);
  const canaryNamespace = labels[CANARY.namespace] ?? primary.ownNamespace;
  const canaryPath = labelPath(CANARY.use);
  if (canary === primary.waypoint && canaryNamespace === primary.waypointNamespace)
    return present(...out, finding(ctx.policy, 'waypoint-canary-invalid', canaryPath,
      `${CANARY.use}=${quoted(canary)} names the primary waypoint ${clientText(canaryNamespace)}/${clientText(canary)} itself, so istiod ignores the canary (WaypointCanarySameAsPrimary). Point it at the new waypoint, or remove it.`));
  return [...present(...out), ...resolve({ ...primary, useLabel: CANARY.use, nsLabel: CANARY.namespace, serves: ['service', 'all'], waypoint: canary, waypointNamespace: canaryNamespace }, ctx)];
}

/** strconv.Atoi, then 0 to 100 (getCanaryWeight). */
const validCanaryWeight = (value: string) => /^[+-]?\d{1,10}$/.test(value) && Number(value) >= 0 && Number(value) <= 100;

/** The findings that rules returned (a rule the policy turns off returns undefined). */
export const present = (...findings: Array<Finding | undefined>) => findings.filter((f): f is Finding => f !== undefined);

function missing(b: Binding, ctx: ValidationContext): Finding | undefined {
  // A Namespace being created cannot contain its own waypoint yet; the Gateway comes right after it.
  if (b.kind === 'Namespace' && b.waypointNamespace === b.ownNamespace && !ctx.snapshot.namespace(b.ownNamespace)) return undefined;
  if (b.waypoint === '')
    return finding(ctx.policy, 'waypoint-missing', labelPath(b.useLabel),
      `${b.useLabel} is empty; set it to the name of a waypoint Gateway, or to "none" to opt out.`);
  const existing = waypointsIn(ctx.snapshot, b.waypointNamespace, ctx.policy.istioVersion).map((g) => nameOf(g) ?? '');
  const where = b.waypointNamespace === b.ownNamespace ? '' : ` (from ${b.nsLabel})`;
  const known = existing.length
    ? ` Waypoints in ${quoted(b.waypointNamespace)}: ${listed(existing)}.`
    : ` There is no waypoint in ${quoted(b.waypointNamespace)}.`;
  return finding(ctx.policy, 'waypoint-missing', labelPath(b.useLabel),
    `${b.useLabel}=${quoted(b.waypoint)} names no existing Gateway: there is no Gateway ${quoted(b.waypoint)} in namespace ${quoted(b.waypointNamespace)}${where}, so istiod reports WaypointIsNotReady and traffic skips L7 policy.${known} Create it first (istioctl waypoint apply -n ${clientText(b.waypointNamespace)} --name ${clientText(b.waypoint)}), fix the name, or set the label to "none" to opt out.`);
}

function notAWaypoint(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  return finding(ctx.policy, 'waypoint-not-a-waypoint', labelPath(b.useLabel),
    `${b.useLabel}=${quoted(b.waypoint)} names Gateway ${gatewayRef(gateway)} of class "${className(gateway) ?? ''}", which is an ingress or egress gateway, not a waypoint: traffic would be sent to it over HBONE and fail. Point the label at a Gateway of class istio-waypoint (istioctl waypoint apply -n ${clientText(b.waypointNamespace)}).`);
}

function forMismatch(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  const { value, source } = effectiveWaypointFor(gateway, ctx.snapshot);
  const { serves } = b;
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
  return finding(ctx.policy, 'waypoint-for-mismatch', labelPath(b.useLabel),
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
  return finding(ctx.policy, 'waypoint-cross-namespace-denied', labelPath(b.nsLabel),
    `waypoint ${gatewayRef(gateway)} does not accept bindings from namespace ${quoted(b.ownNamespace)}: ${reason}. istiod reports AttachmentDenied and this ${b.kind} would get no waypoint. ${fix}; or use a waypoint in ${quoted(b.ownNamespace)}.`);
}

/**
 * Istio 1.31: a ServiceEntry whose namespace resolves to NAMESPACE visibility (MeshConfig
 * serviceEntryVisibility, service-entry-visibility.ts) cannot bind to a waypoint in another
 * namespace, whatever the waypoint's allowedRoutes and whether the label is its own or its
 * namespace's: fetchWaypointForService (pilot/pkg/serviceregistry/ambient/waypoints.go) reports
 * CrossNamespaceWaypointForbidden (ReportWaypointCrossNamespaceForbidden, status.go). Its exportTo
 * plays no part. The canary is not checked there (resolveCanaryWaypoint), so neither is it here.
 */
function visibilityForbidden(b: Binding, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  if (b.kind !== 'ServiceEntry' || b.useLabel !== ISTIO.useWaypoint) return undefined;
  const waypointNamespace = namespaceOf(gateway) ?? b.waypointNamespace;
  if (waypointNamespace === b.ownNamespace || !inRange(ctx.policy.istioVersion, SERVICE_ENTRY_VISIBILITY_VERSIONS)) return undefined;
  const ns = ctx.snapshot.namespace(b.ownNamespace);
  const labels = ns ? { ...labelsOf(ns), [NAMESPACE_NAME_LABEL]: b.ownNamespace } : undefined;
  if (serviceEntryVisibility(ctx.policy.serviceEntryVisibility, labels) !== 'Namespace') return undefined;
  const from = b.inherited ? `namespace ${quoted(b.ownNamespace)}'s ${b.useLabel}` : b.useLabel;
  const fix = b.inherited
    ? `Label this ServiceEntry ${ISTIO.useWaypoint} with a waypoint in ${quoted(b.ownNamespace)} (or "none")`
    : `Use a waypoint in ${quoted(b.ownNamespace)} (istioctl waypoint apply -n ${clientText(b.ownNamespace)})`;
  return finding(ctx.policy, 'waypoint-cross-namespace-denied', b.inherited ? 'metadata.namespace' : labelPath(b.nsLabel),
    `ServiceEntries in namespace ${quoted(b.ownNamespace)} have visibility NAMESPACE (the policy's serviceEntryVisibility, a copy of MeshConfig's), so istiod refuses to bind this one to waypoint ${gatewayRef(gateway)} in another namespace (from ${from}; CrossNamespaceWaypointForbidden), whatever the waypoint's allowedRoutes: it would expose the ServiceEntry there, and it gets no waypoint. ${fix}, or give the namespace PUBLIC visibility in MeshConfig serviceEntryVisibility.`);
}

function listed(names: string[]): string {
  const shown = names.slice(0, LIST_MAX).join(', ');
  return names.length > LIST_MAX ? `${shown} and ${names.length - LIST_MAX} more` : shown;
}
