import { clientText, quoted } from '../client-text.js';
import type { ClusterSnapshot, SnapshotKind } from '../cluster/snapshot.js';
import { finding, FINDINGS_MAX, type Finding } from '../findings.js';
import { annotationsOf, isRecord, labelsOf, namespaceOf, type KubeObject } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { Policy } from '../policy/types.js';
import type { ValidationContext, Validator } from './index.js';
import { GATEWAY_API, hasTargetRefs, isSet, listOf, targetRefsFix, waypointNames } from './authz-binding.js';
import { ztunnelFindings } from './authz-ztunnel.js';
import { removedWhenKeyAdvice } from './l7-attributes.js';
import { namespaceWaypoint } from './waypoint-gateway.js';

export { hasTargetRefs };

const VERSIONS = ['v1', 'v1beta1'];
const MAX_TARGET_REFS = 16;

/** Target kinds istiod accepts and their groups (allowedTargetRefs in pkg/config/validation/validation.go). */
const TARGET_GROUPS: Record<string, string> = {
  Gateway: GATEWAY_API,
  GatewayClass: GATEWAY_API,
  Service: '',
  ServiceEntry: 'networking.istio.io',
};

const str = (value: unknown) => (typeof value === 'string' ? value : undefined);

interface TargetRef {
  path: string;
  kind: string;
  group: string;
  name: string;
  namespace?: string;
}

function targetRefsOf(spec: Record<string, unknown>): TargetRef[] {
  const refs: Array<[string, unknown]> = [];
  if (isSet(spec.targetRef)) refs.push(['spec.targetRef', spec.targetRef]);
  listOf(spec.targetRefs).forEach((ref, i) => refs.push([`spec.targetRefs[${i}]`, ref]));
  return refs
    .filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]))
    .map(([path, ref]) => ({
      path,
      kind: str(ref.kind) ?? '',
      // istiod reads an empty group, and "core", as the core group.
      group: str(ref.group) === 'core' ? '' : str(ref.group) ?? '',
      name: str(ref.name) ?? '',
      namespace: str(ref.namespace) || undefined,
    }));
}

type Report = (f: Finding | undefined) => void;

function misplacedWaypointLabels(obj: KubeObject, spec: Record<string, unknown>, namespace: string, ctx: ValidationContext, report: Report) {
  const hasTargets = hasTargetRefs(spec);
  for (const [where, values] of [['labels', labelsOf(obj)], ['annotations', annotationsOf(obj)]] as const)
    for (const key of [ISTIO.waypointFor, ISTIO.useWaypoint, ISTIO.useWaypointNamespace]) {
      if (values[key] === undefined) continue;
      const fix = hasTargets
        ? 'remove it; spec.targetRefs already attaches the policy.'
        : `remove it and attach the policy with ${targetRefsFix(ctx.snapshot, namespace, ctx.policy)}.`;
      report(
        finding(ctx.policy, 'authz-misplaced-waypoint-label', `metadata.${where}["${key}"]`,
          `${key} does nothing on an AuthorizationPolicy (it belongs on a waypoint Gateway or on what uses one); ` +
          `a policy attaches to a waypoint only through spec.targetRefs. Fix: ${fix}`),
      );
    }
}

function removedWhenKeys(spec: Record<string, unknown>, policy: Policy, report: Report) {
  // At most FINDINGS_MAX findings: the first keys one by one, then a count (60,000 made 60,000 findings).
  let reported = 0;
  let more = 0;
  listOf(spec.rules).forEach((rule, r) => {
    listOf(isRecord(rule) ? rule.when : undefined).forEach((when, w) => {
      const key = isRecord(when) ? str(when.key) : undefined;
      const advice = key === undefined ? undefined : removedWhenKeyAdvice(key);
      if (!advice) return;
      if (reported >= FINDINGS_MAX - 1) return void more++;
      reported++;
      report(
        finding(policy, 'authz-removed-when-key', `spec.rules[${r}].when[${w}].key`,
          `when key ${quoted(key)} was removed from AuthorizationPolicy and istiod rejects the policy; ${advice}.`),
      );
    });
  });
  if (more)
    report(
      finding(policy, 'authz-removed-when-key', 'spec.rules',
        `${more} more when keys were removed from AuthorizationPolicy (the first ${FINDINGS_MAX - 1} are listed); istiod rejects the policy; remove them all or replace them as advised above.`),
    );
}

const shapeOf = (value: unknown) => (Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`);

/**
 * A targetRef that is not one object, or targetRefs that is not a list of objects. The CRD schema
 * rejects these on a live cluster; `meshguard check` has no schema and must not skip them silently.
 */
function malformedRefs(spec: Record<string, unknown>, policy: Policy, report: Report) {
  const ref = '{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}';
  if (isSet(spec.targetRef) && !isRecord(spec.targetRef))
    report(
      finding(policy, 'authz-target-invalid', 'spec.targetRef',
        `spec.targetRef must be one object such as ${ref}, but it is ${shapeOf(spec.targetRef)}; ` +
        (Array.isArray(spec.targetRef) ? 'for several targets use spec.targetRefs (a list).' : 'write it as an object.')),
    );
  if (isSet(spec.targetRefs) && !Array.isArray(spec.targetRefs)) {
    report(
      finding(policy, 'authz-target-invalid', 'spec.targetRefs',
        `spec.targetRefs must be a list of objects such as [${ref}], but it is ${shapeOf(spec.targetRefs)}; ` +
        (isRecord(spec.targetRefs) ? 'wrap the object in a list (or use spec.targetRef).' : 'write it as a list of objects.')),
    );
    return;
  }
  listOf(spec.targetRefs).forEach((element, i) => {
    if (!isRecord(element))
      report(
        finding(policy, 'authz-target-invalid', `spec.targetRefs[${i}]`,
          `spec.targetRefs[${i}] must be an object such as ${ref}, but it is ${shapeOf(element)}; write each target as an object with kind, group and name.`),
      );
  });
}

function bindingConflicts(spec: Record<string, unknown>, policy: Policy, report: Report) {
  malformedRefs(spec, policy, report);
  const targetRefs = listOf(spec.targetRefs);
  if (isSet(spec.selector) && hasTargetRefs(spec))
    report(
      finding(policy, 'authz-target-invalid', 'spec.selector',
        'spec.selector cannot be combined with spec.targetRef or spec.targetRefs (the CRD allows one of them): ' +
        'ztunnel enforces selector policies and waypoints enforce targetRefs policies. Keep targetRefs for L7 rules on a waypoint, or selector for L4 rules on ztunnel.'),
    );
  if (isSet(spec.targetRef) && targetRefs.length > 0)
    report(
      finding(policy, 'authz-target-invalid', 'spec.targetRef',
        'spec.targetRef and spec.targetRefs cannot both be set; move the targetRef into spec.targetRefs.'),
    );
  if (targetRefs.length > MAX_TARGET_REFS)
    report(
      finding(policy, 'authz-target-invalid', 'spec.targetRefs',
        `spec.targetRefs holds ${targetRefs.length} refs but at most ${MAX_TARGET_REFS} are allowed; split the policy into several.`),
    );
}

/** Problems with a ref's own fields; a ref with any is not looked up. */
function refProblems(ref: TargetRef, namespace: string, policy: Policy, report: Report): boolean {
  let problems = 0;
  const flag = (path: string, text: string) => {
    problems++;
    report(finding(policy, 'authz-target-invalid', path, text));
  };
  const group = Object.hasOwn(TARGET_GROUPS, ref.kind) ? TARGET_GROUPS[ref.kind] : undefined;
  if (group === undefined)
    flag(`${ref.path}.kind`,
      `kind ${quoted(ref.kind)} cannot be a policy target; use Gateway or GatewayClass (group ${GATEWAY_API}), Service (group ""), or ServiceEntry (group networking.istio.io).`);
  else if (group !== ref.group)
    flag(`${ref.path}.group`, `kind ${ref.kind} is in group "${group}", not ${quoted(ref.group)}; set group: "${group}".`);
  if (!ref.name) flag(`${ref.path}.name`, 'a target reference needs a name; set the name of the target object.');
  if (ref.namespace)
    flag(`${ref.path}.namespace`,
      `a target reference cannot name a namespace (istiod does not support cross-namespace targets); remove it and create the policy in namespace ${quoted(ref.namespace)}.`);
  if (ref.kind === 'GatewayClass' && namespace !== policy.rootNamespace)
    flag(ref.path,
      `a GatewayClass target takes effect only for a policy in the root namespace "${policy.rootNamespace}"; move the policy there, or target a Gateway in "${namespace}".`);
  return problems > 0;
}

function lookUp(snapshot: ClusterSnapshot, kind: SnapshotKind, namespace: string, name: string): KubeObject | undefined {
  switch (kind) {
    case 'Gateway':
      return snapshot.gateway(namespace, name);
    case 'GatewayClass':
      return snapshot.gatewayClass(name);
    case 'Service':
      return snapshot.service(namespace, name);
    case 'ServiceEntry':
      return snapshot.serviceEntry(namespace, name);
    default:
      return undefined;
  }
}

function missingTargetText(ref: TargetRef, namespace: string, snapshot: ClusterSnapshot, policy: Policy): string {
  const where = ref.kind === 'GatewayClass' ? '' : ` in namespace "${namespace}"`;
  let text = `${ref.kind} ${quoted(ref.name)} does not exist${where}, so the policy applies to nothing. Fix the name, or create the ${ref.kind} first`;
  if (ref.kind === 'Gateway') {
    const waypoints = waypointNames(snapshot, namespace, policy);
    text += waypoints.length
      ? ` (waypoints in "${namespace}": ${waypoints.join(', ')})`
      : ` (istioctl waypoint apply -n ${namespace} creates a waypoint named "waypoint")`;
  }
  return `${text}.`;
}

/** Why a Service or ServiceEntry is not bound to a waypoint, or undefined when it is (or cannot be known). */
function notBoundReason(target: KubeObject, namespace: string, snapshot: ClusterSnapshot): string | undefined {
  const own = labelsOf(target)[ISTIO.useWaypoint];
  if (own === 'none') return `it has ${ISTIO.useWaypoint}=none`;
  if (own) return undefined;
  const ns = snapshot.namespace(namespace);
  // An unknown namespace cannot be judged; say nothing rather than guess.
  if (!ns) return undefined;
  const inherited = labelsOf(ns)[ISTIO.useWaypoint];
  if (inherited === 'none') return `namespace "${namespace}" has ${ISTIO.useWaypoint}=none and it has no label of its own`;
  if (inherited) return undefined;
  return `neither it nor namespace "${namespace}" has the label ${ISTIO.useWaypoint}`;
}

function targetFindings(spec: Record<string, unknown>, namespace: string, ctx: ValidationContext, report: Report) {
  const { snapshot, policy } = ctx;
  bindingConflicts(spec, policy, report);
  // Over MAX_TARGET_REFS istiod rejects the policy whatever the refs say (bindingConflicts reported
  // it), and checking each of 100,000 refs would only make 100,000 findings.
  if (listOf(spec.targetRefs).length > MAX_TARGET_REFS) return;
  for (const ref of targetRefsOf(spec)) {
    if (refProblems(ref, namespace, policy, report)) continue;
    const kind = ref.kind as SnapshotKind;
    // A kind the cluster does not serve (missing CRD) disables the check instead of failing every ref.
    if (!snapshot.has(kind)) continue;
    const target = lookUp(snapshot, kind, namespace, ref.name);
    if (!target) {
      report(finding(policy, 'authz-target-not-found', `${ref.path}.name`, missingTargetText(ref, namespace, snapshot, policy)));
      continue;
    }
    if (kind !== 'Service' && kind !== 'ServiceEntry') continue;
    const reason = notBoundReason(target, namespace, snapshot);
    if (reason)
      report(
        finding(policy, 'authz-target-not-waypoint', ref.path,
          `${kind} ${quoted(ref.name)} is not bound to a waypoint (${reason}), so no waypoint enforces this policy, and ztunnel ignores policies with targetRefs. ` +
          `Bind it: kubectl label ${kind.toLowerCase()} ${clientText(ref.name)} -n ${namespace} ${ISTIO.useWaypoint}=${namespaceWaypoint(snapshot, namespace, policy.istioVersion)?.name ?? 'waypoint'}.`),
      );
  }
}

/**
 * AuthorizationPolicy in ambient: L7 rules that only a waypoint can enforce, targetRefs that point
 * nowhere or at something no waypoint serves, waypoint labels in the wrong place, and removed
 * `when` keys. Nothing on DELETE.
 */
export const validateAuthorizationPolicy: Validator = (input, ctx) => {
  if (input.group !== 'security.istio.io' || input.kind !== 'AuthorizationPolicy' || !VERSIONS.includes(input.version)) return [];
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const obj = input.object;
  if (!isRecord(obj)) return [];
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const namespace = input.namespace ?? namespaceOf(obj) ?? 'default';
  const findings: Finding[] = [];
  const report: Report = (f) => {
    if (f) findings.push(f);
  };
  misplacedWaypointLabels(obj, spec, namespace, ctx, report);
  removedWhenKeys(spec, ctx.policy, report);
  targetFindings(spec, namespace, ctx, report);
  for (const f of ztunnelFindings(obj, spec, namespace, ctx)) report(f);
  return findings;
};
