// waypoint-in-use: a change that takes a waypoint away from the Namespaces, Services and
// ServiceEntries that bind to it (istio.io/use-waypoint, or its canary) is refused: deleting the
// Gateway, an UPDATE that changes its class or waypoint-for, and deleting or changing its GatewayClass.
import { quoted } from '../client-text.js';
import { withGatewayClass, type WaypointReferrer } from '../cluster/snapshot.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import { BUILTIN_CLASSES } from '../gateway-classes.js';
import type { KubeObject } from '../kube.js';
import { isRecord, nameOf, namespaceOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { ValidationContext, ValidationInput } from './index.js';
import { present } from './waypoint-binding.js';
import { className, effectiveWaypointFor, gatewayRef, isTerminating, isWaypointRole, waypointRole } from './waypoint-gateway.js';

const REFERRERS_SHOWN = 10;
const WAYPOINTS_SHOWN = 5;

export function waypointInUse(input: ValidationInput, ctx: ValidationContext): Finding[] {
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

/** The referrers a waypoint-for change from `before` to `after` leaves without their waypoint. */
const brokenBy = (refs: WaypointReferrer[], before: string, after: string) =>
  before === after ? [] : refs.filter((r) => referrerServes(r).includes(before) && !referrerServes(r).includes(after));

const FIX = `First point them at another waypoint or remove the label (e.g. kubectl label service NAME -n NAMESPACE ${ISTIO.useWaypoint}-)`;

/**
 * An UPDATE that takes a waypoint away from what uses it, refused like a DELETE: its class stops
 * being a waypoint class, or its waypoint-for stops serving what binds to it.
 */
export function waypointChangeInUse(gateway: KubeObject, input: ValidationInput, ctx: ValidationContext): Finding[] {
  const old = isRecord(input.oldObject) ? input.oldObject : undefined;
  const name = nameOf(gateway) ?? input.name;
  const namespace = input.namespace ?? namespaceOf(gateway) ?? 'default';
  if (!old || !name) return [];
  const version = ctx.policy.istioVersion;
  if (waypointRole(old, ctx.snapshot, version) === 'not-waypoint') return [];
  const referrers = ctx.snapshot.waypointReferrers(namespace, name);
  if (!referrers.length) return [];
  const fix = `${FIX}, then change the Gateway.`;
  if (waypointRole(gateway, ctx.snapshot, version) === 'not-waypoint')
    return present(
      finding(ctx.policy, 'waypoint-in-use', 'spec.gatewayClassName',
        `this change makes waypoint ${namespace}/${name} a Gateway of class ${quoted(className(gateway) ?? '')}, which is not a waypoint, while ${listReferrers(referrers)} use it: istiod would drop it as their waypoint and their L7 routing and authorization with it. ${fix}`),
    );
  const before = effectiveWaypointFor(old, ctx.snapshot).value;
  const after = effectiveWaypointFor(gateway, ctx.snapshot).value;
  const broken = brokenBy(referrers, before, after);
  if (!broken.length) return [];
  return present(
    finding(ctx.policy, 'waypoint-in-use', `metadata.labels["${ISTIO.waypointFor}"]`,
      `this change makes waypoint ${namespace}/${name} serve ${quoted(after)} instead of ${quoted(before)} traffic (${ISTIO.waypointFor}), which ${listReferrers(broken)} no longer bind to (istiod reports UnsupportedTrafficType and they get no waypoint). ${fix}`),
  );
}

/** A waypoint of the class that a class change breaks, with the referrers it leaves without a waypoint. */
interface Broken {
  gateway: KubeObject;
  referrers: WaypointReferrer[];
  /** `class`: it stops being an Istio waypoint; else the waypoint-for it would serve instead. */
  change: 'class' | { before: string; after: string };
}

/**
 * Deleting a GatewayClass, or an UPDATE of its controllerName or waypoint-for label, judged for
 * each Gateway of the class against the cluster as it would be after the change
 * (`withGatewayClass`):
 * - A Gateway that stops being an Istio waypoint (its class's controller is no longer one of
 *   Istio's waypoint controllers) is no longer reconciled by istiod: DeploymentController.Reconcile
 *   (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go) skips a Gateway whose class has
 *   an unknown controller, or is gone and is not one of the built-in classes. A deleted built-in
 *   class (istio-waypoint) is recreated by istiod's ClassController.reconcileClass (gatewayclass.go)
 *   with the same controller, so deleting it keeps its Gateways waypoints, but without the labels
 *   the deleted object carried.
 * - The class's istio.io/waypoint-for label is the Gateway's default traffic type; with the class
 *   gone istiod falls back to "service" (gatewayToWaypointTransform in
 *   pilot/pkg/serviceregistry/ambient/waypoints.go), which can leave referrers without a waypoint.
 * The published Gateway API CRD makes spec.controllerName immutable (x-kubernetes-validations
 * "Value is immutable", gateway.networking.k8s.io_gatewayclasses.yaml in sigs.k8s.io/gateway-api
 * v1.6.0), and the API server applies CRD validation before it calls validating webhooks, so on
 * such a cluster a controllerName UPDATE never reaches meshguard and DELETE is the case that
 * matters; the UPDATE is still judged for CRDs without that rule (and for `meshguard check`).
 */
export function gatewayClassChangeInUse(input: ValidationInput, ctx: ValidationContext): Finding[] {
  const after = input.operation === 'DELETE' ? undefined : isRecord(input.object) ? input.object : undefined;
  const name = input.name ?? nameOf(after ?? input.oldObject);
  if (!name || (input.operation !== 'DELETE' && !after)) return [];
  const old = isRecord(input.oldObject) ? input.oldObject : ctx.snapshot.gatewayClass(name);
  if (!old) return [];
  const version = ctx.policy.istioVersion;
  const beforeView = withGatewayClass(ctx.snapshot, name, old);
  const afterView = withGatewayClass(ctx.snapshot, name, after);
  const broken: Broken[] = [];
  for (const gateway of ctx.snapshot.gatewaysOfClass(name)) {
    const referrers = ctx.snapshot.waypointReferrers(namespaceOf(gateway) ?? 'default', nameOf(gateway) ?? '');
    if (!referrers.length || isTerminating(ctx.snapshot.namespace(namespaceOf(gateway) ?? 'default'))) continue;
    const roleBefore = waypointRole(gateway, beforeView, version);
    if (!isWaypointRole(roleBefore)) continue;
    if (roleBefore === 'istio-waypoint' && waypointRole(gateway, afterView, version) !== 'istio-waypoint') {
      broken.push({ gateway, referrers, change: 'class' });
      continue;
    }
    const before = effectiveWaypointFor(gateway, beforeView).value;
    const afterFor = effectiveWaypointFor(gateway, afterView).value;
    const lost = brokenBy(referrers, before, afterFor);
    if (lost.length) broken.push({ gateway, referrers: lost, change: { before, after: afterFor } });
  }
  if (!broken.length) return [];
  const deleting = input.operation === 'DELETE';
  const path = broken.some((b) => b.change === 'class') ? (deleting ? 'metadata.name' : 'spec.controllerName') : `metadata.labels["${ISTIO.waypointFor}"]`;
  const what = deleting ? `deleting GatewayClass ${name}` : `this change to GatewayClass ${name}`;
  return present(
    finding(ctx.policy, 'waypoint-in-use', path,
      `${what} takes away waypoints that are in use: ${listBroken(broken, name, deleting, after, version)}. ${FIX}, then ${deleting ? 'delete' : 'change'} the GatewayClass.`),
  );
}

function listBroken(broken: Broken[], name: string, deleting: boolean, after: KubeObject | undefined, version: string): string {
  const builtin = BUILTIN_CLASSES.some((c) => c.name === name);
  const shown = broken.slice(0, WAYPOINTS_SHOWN).map(({ gateway, referrers, change }) => {
    const why =
      change === 'class'
        ? deleting
          ? `its class would no longer exist${builtin ? '' : ' (istiod recreates only its built-in classes)'}, so istiod stops managing it as a waypoint`
          : `its class's controller would be ${quoted(controllerOf(after))}, not one of Istio's waypoint controllers (Istio ${version}), so istiod stops managing it as a waypoint`
        : `it would serve ${quoted(change.after)} instead of ${quoted(change.before)} traffic (${ISTIO.waypointFor} from the GatewayClass), which they no longer bind to (UnsupportedTrafficType)`;
    return `waypoint ${gatewayRef(gateway)}, used by ${listReferrers(referrers)}: ${why}`;
  });
  const more = broken.length > WAYPOINTS_SHOWN ? `; and ${broken.length - WAYPOINTS_SHOWN} more waypoints` : '';
  return `${shown.join('; ')}${more}`;
}

const controllerOf = (gatewayClass: KubeObject | undefined) =>
  isRecord(gatewayClass?.spec) && typeof gatewayClass.spec.controllerName === 'string' ? gatewayClass.spec.controllerName : '';
