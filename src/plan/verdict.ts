// The per-namespace verdict: can its sidecar pods move to ambient, and what stands in the way.
// Pure: the snapshot and the objects in, the plan out. Facts come from the rule engine (L7
// attributes, waypoint resolution, pod modes) and from Istio's source, cited where used.
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf, nameOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import { decidePodMode } from '../mutate/pod-mode.js';
import { runningPodMode } from '../mutate/running-mode.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { hasTargetRefs } from '../validate/authorization-policy.js';
import { findRuleAttributes } from '../validate/l7-attributes.js';
import { ztunnelRules } from '../validate/ztunnel-policy.js';
import { namespaceWaypoint } from '../validate/waypoint-gateway.js';
import { Inventory, ownerOf, workloadsOf, workloadSelectorOf, type PlanKind } from './inventory.js';
import { selects, targetsFor, type TargetRef } from './targets.js';
import { MIGRATED_FROM, type ModeCounts, type PlanInput, type PlanReason, type ReasonId, type Verdict, type Workload } from './types.js';

/** A workload-selected object the plan rewrites with targetRefs to the waypoint. */
export interface Rewrite {
  object: KubeObject;
  kind: PlanKind;
  name: string;
  targets: TargetRef[];
  /** The rewrite exists already (an earlier run of the plan was applied): only deleting the original is left. */
  done?: boolean;
}

export interface NamespacePlan {
  namespace: string;
  verdict: Verdict;
  reasons: PlanReason[];
  /** Pods by the mode they run in now, and after the plan. */
  now: ModeCounts;
  after: ModeCounts;
  /** Workloads whose sidecar pods move to ambient (each gets a rollout restart). */
  moving: Workload[];
  /** Workloads whose pods keep their sidecars. */
  staying: Workload[];
  /** The waypoint the namespace uses after the plan (`exists` false: the plan creates it). */
  waypoint?: { name: string; exists: boolean };
  rewrites: Rewrite[];
  /** The namespace's labels after the plan (undefined: unchanged). */
  labelsAfter?: Record<string, string>;
  /** The sidecar pods that move, and those that stay (for the cost figures). */
  movingPods: KubeObject[];
  stayingPods: KubeObject[];
}

/** The waypoint name `istioctl waypoint apply` uses by default (istioctl/pkg/waypoint/waypoint.go). */
export const DEFAULT_WAYPOINT = 'waypoint';

/** Kinds whose selector-bound form a waypoint applies once rewritten with targetRefs, and the reason id. */
const RETARGETABLE: Partial<Record<PlanKind, ReasonId>> = {
  RequestAuthentication: 'request-authentication-selector',
  Telemetry: 'telemetry-selector',
  WasmPlugin: 'wasmplugin-selector',
};

export function planNamespaces(input: PlanInput, policy: Policy, inventory = new Inventory(input.objects)): NamespacePlan[] {
  const names = input.namespaces?.length
    ? input.namespaces
    : [...new Set([...inventory.namespaces(), ...namespaceNames(input.objects)])].sort();
  const root = rootPolicies(inventory, policy);
  return names.filter((ns) => ns !== policy.rootNamespace || input.namespaces?.includes(ns)).map((ns) => planNamespace(ns, input.snapshot, inventory, policy, root));
}

function namespaceNames(objects: KubeObject[]): string[] {
  return objects.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1').map((o) => nameOf(o) ?? '').filter(Boolean);
}

const ref = (obj: KubeObject, kind: string, namespace: string) => ({ kind, namespace, name: nameOf(obj) ?? '' });

function planNamespace(ns: string, snapshot: ClusterSnapshot, inventory: Inventory, policy: Policy, root: KubeObject[]): NamespacePlan {
  const nsObj = snapshot.namespace(ns);
  const pods = inventory.of(ns, 'Pod');
  const modes = pods.map((p) => runningPodMode(p, nsObj));
  const now = count(modes);
  const meshPods = pods.filter((_, i) => modes[i] !== 'none');
  const sidecarPods = pods.filter((_, i) => modes[i] === 'sidecar');
  const base = { namespace: ns, reasons: [], now, after: now, moving: [], staying: workloadsOf(sidecarPods), rewrites: [], movingPods: [], stayingPods: sidecarPods };
  const labels = labelsOf(nsObj);
  const sidecarLabelled = labels[ISTIO.injection] === 'enabled' || labels[ISTIO.rev] !== undefined;
  if (sidecarPods.length === 0 && !sidecarLabelled) {
    const ambient = labels[ISTIO.dataplaneMode] === 'ambient' || now.ambient > 0;
    return { ...base, verdict: ambient ? 'already-ambient' : 'not-in-mesh' };
  }

  const reasons: PlanReason[] = [];
  const add = (id: ReasonId, effect: PlanReason['effect'], object: PlanReason['object'], message: string, path?: string) =>
    reasons.push({ id, effect, object, message, ...(path && { path }) });

  // Which pods keep their sidecar once the namespace is ambient: the webhook's own mode decision.
  const labelsAfter = ambientLabels(labels);
  const config = namespaceConfig({ ...nsObj, metadata: { ...nsObj?.metadata, name: ns, labels: labelsAfter } }, policy);
  const movingPods: KubeObject[] = [];
  const stayingPods: KubeObject[] = [];
  for (const pod of sidecarPods) {
    const decision = decidePodMode(pod, config, policy);
    if (decision.mode !== 'sidecar') {
      movingPods.push(pod);
      continue;
    }
    stayingPods.push(pod);
  }
  for (const w of workloadsOf(stayingPods)) {
    const pod = stayingPods.find((p) => ownerOf(p).kind === w.kind && ownerOf(p).name === w.name)!;
    const rule = decidePodMode(pod, config, policy).rule;
    const pinned = policy.sidecarOnlyAnnotations.filter((a) => annotationsOf(pod)[a] !== undefined);
    const one = w.pods === 1;
    add('pod-stays-sidecar', 'note', { kind: w.kind, namespace: ns, name: w.name },
      `${w.pods} pod${one ? '' : 's'} of ${w.kind} ${w.name} keep${one ? 's' : ''} the sidecar: meshguard decides sidecar mode for ${one ? 'it' : 'them'} by rule ${rule}` +
      (rule === 'sidecar-only-feature' ? ` (annotations only a sidecar understands: ${pinned.join(', ')}).` : '.'));
  }
  // What an earlier run of the plan wrote is part of the migration, not something to migrate.
  const affects = (obj: KubeObject) => {
    if (annotationsOf(obj)[MIGRATED_FROM] !== undefined) return false;
    const selector = workloadSelectorOf(obj);
    return selector === undefined || movingPods.some((p) => selects(selector, p));
  };

  const candidates: Array<{ obj: KubeObject; kind: PlanKind }> = [];
  for (const ap of inventory.of(ns, 'AuthorizationPolicy')) {
    const spec = isRecord(ap.spec) ? ap.spec : {};
    if (hasTargetRefs(spec) || !affects(ap)) continue;
    const action = typeof spec.action === 'string' ? spec.action : 'ALLOW';
    const attrs = findRuleAttributes(spec);
    const l7 = attrs.filter((a) => a.layer === 'L7');
    if (action === 'CUSTOM' || action === 'AUDIT') {
      add('authz-action-unsupported', 'waypoint', ref(ap, 'AuthorizationPolicy', ns),
        `action ${action} is not bound to ztunnel at all (pilot/pkg/serviceregistry/ambient/authorization.go convertAuthorizationPolicy); a waypoint applies it once the policy targets it.`, 'spec.action');
      candidates.push({ obj: ap, kind: 'AuthorizationPolicy' });
    } else if (l7.length) {
      add('authz-l7-selector', 'waypoint', ref(ap, 'AuthorizationPolicy', ns),
        `${action} policy with L7 attributes (${[...new Set(l7.map((a) => a.attribute))].join(', ')}) that ztunnel cannot enforce (authorization.go handleRule); a waypoint enforces it once rewritten with targetRefs.`, l7[0].path);
      candidates.push({ obj: ap, kind: 'AuthorizationPolicy' });
    } else {
      const silent = ztunnelRules(spec).flatMap((r) => r.clauses.flatMap((c) => c.matches.flatMap((m) => m.silent)));
      if (silent.length) {
        add('authz-ztunnel-drops-field', 'waypoint', ref(ap, 'AuthorizationPolicy', ns),
          `${silent.join(', ')}: istiod copies trustDomains into nothing ztunnel enforces (authorization.go handleRule), so on ztunnel the policy would match every trust domain; a waypoint enforces it once rewritten with targetRefs.`, silent[0]);
        candidates.push({ obj: ap, kind: 'AuthorizationPolicy' });
      }
    }
  }
  for (const [kind, id] of Object.entries(RETARGETABLE) as Array<[PlanKind, ReasonId]>) {
    for (const obj of inventory.of(ns, kind)) {
      if (hasTargetRefs(isRecord(obj.spec) ? obj.spec : {}) || !affects(obj)) continue;
      // A namespace-wide Telemetry already applies to the namespace's waypoint (pilot/pkg/model/telemetry.go applicableTelemetries).
      if (kind === 'Telemetry' && workloadSelectorOf(obj) === undefined) continue;
      add(id, 'waypoint', ref(obj, kind, ns), retargetMessage(kind), 'spec.selector');
      candidates.push({ obj, kind });
    }
  }
  for (const ef of inventory.of(ns, 'EnvoyFilter')) {
    if (hasTargetRefs(isRecord(ef.spec) ? ef.spec : {}) || !affects(ef)) continue;
    add('envoyfilter-workload', 'blocks', ref(ef, 'EnvoyFilter', ns),
      'EnvoyFilter patches the sidecar\'s own Envoy configuration; ztunnel runs no Envoy, and a waypoint takes an EnvoyFilter only through spec.targetRefs (pilot/pkg/model/push_context.go getMatchedEnvoyFilters) with patches written for the waypoint\'s listeners. Rewrite it for the waypoint by hand, then re-plan.',
      workloadSelectorOf(ef) ? 'spec.workloadSelector' : undefined);
  }
  for (const sc of inventory.of(ns, 'Sidecar')) {
    if (!affects(sc)) continue;
    const spec = isRecord(sc.spec) ? sc.spec : {};
    const controls = ['outboundTrafficPolicy', 'ingress'].filter((f) => spec[f] !== undefined);
    if (controls.length)
      add('sidecar-resource-egress-policy', 'blocks', ref(sc, 'Sidecar', ns),
        `Sidecar sets ${controls.join(' and ')}, which has no ambient form: waypoints always use the default scope (pilot/pkg/model/push_context.go doGetSidecarScope) and ztunnel does not read Sidecar. Replace it (egress: a ServiceEntry with an egress waypoint and an AuthorizationPolicy), then re-plan.`,
        `spec.${controls[0]}`);
    else
      add('sidecar-resource-scope', 'note', ref(sc, 'Sidecar', ns),
        'Sidecar only narrows what the proxy is told about (egress hosts); ambient has no per-workload scoping and nothing replaces it: it is ignored once the pods move.');
  }
  for (const vs of inventory.of(ns, 'VirtualService')) {
    const spec = isRecord(vs.spec) ? vs.spec : {};
    const gateways = Array.isArray(spec.gateways) ? spec.gateways : [];
    const forMesh = gateways.length === 0 || gateways.includes('mesh');
    const routes = ['http', 'tcp', 'tls'].filter((f) => Array.isArray(spec[f]) && spec[f].length > 0);
    if (!forMesh || !routes.length) continue;
    add('virtualservice-l7', 'waypoint', ref(vs, 'VirtualService', ns),
      `VirtualService routes mesh traffic (${routes.join(', ')}); ztunnel does not apply VirtualServices, only the waypoint of the destination Service does. It needs no rewrite once the namespace uses a waypoint.`,
      `spec.${routes[0]}`);
  }
  for (const dr of inventory.of(ns, 'DestinationRule')) {
    const spec = isRecord(dr.spec) ? dr.spec : {};
    const fields = ['trafficPolicy', 'subsets'].filter((f) => spec[f] !== undefined);
    if (!fields.length) continue;
    add('destinationrule-l7', 'waypoint', ref(dr, 'DestinationRule', ns),
      `DestinationRule sets ${fields.join(' and ')}; a sidecar client applied it, and in ambient only the destination's waypoint does (ztunnel ignores DestinationRules). It needs no rewrite once the namespace uses a waypoint.`,
      `spec.${fields[0]}`);
  }
  for (const pa of inventory.of(ns, 'PeerAuthentication')) {
    if (!affects(pa)) continue;
    const mode = isRecord(pa.spec) && isRecord(pa.spec.mtls) ? pa.spec.mtls.mode : undefined;
    if (mode !== 'DISABLE') continue;
    add('peerauthentication-disable', 'note', ref(pa, 'PeerAuthentication', ns),
      'mtls.mode DISABLE: ztunnel enforces only STRICT (as a rule denying plaintext) and treats DISABLE as PERMISSIVE; traffic between ambient pods is always mTLS over HBONE (pilot/pkg/serviceregistry/ambient/authorization.go convertPeerAuthentication).',
      'spec.mtls.mode');
  }
  for (const obj of root) {
    if (!movingPods.some((p) => selects(workloadSelectorOf(obj), p))) continue;
    add('mesh-wide-l7-policy', 'blocks', ref(obj, obj.kind!, policy.rootNamespace),
      `a ${obj.kind} in the root namespace "${policy.rootNamespace}" applies to these pods with L7 content that ztunnel cannot enforce; targetRefs cannot cross namespaces, so a per-namespace rewrite cannot keep it. Rewrite it by hand (a GatewayClass istio-waypoint target in "${policy.rootNamespace}" applies it on every waypoint), then re-plan.`);
  }

  const waypointWanted = reasons.some((r) => r.effect === 'waypoint');
  const existing = namespaceWaypoint(snapshot, ns, policy.istioVersion);
  const waypointName = existing?.namespace === ns ? existing.name : DEFAULT_WAYPOINT;
  const rewrites: Rewrite[] = [];
  if (waypointWanted) {
    // Behind a waypoint, ztunnel at the destination sees the waypoint's identity as the source
    // (tests/integration/ambient/baseline_test.go TestAuthorizationWaypointDefaultDeny allows
    // cluster.local/ns/NS/sa/WAYPOINT at the workload), so source checks left on ztunnel would judge
    // the waypoint instead of the client; and an ALLOW left on ztunnel would let requests that skip
    // the waypoint (addressed to a pod) through without its DENY policies. Both move to the waypoint,
    // which still sees the client; a DENY without source checks stays on ztunnel, where it still denies.
    for (const ap of inventory.of(ns, 'AuthorizationPolicy')) {
      const spec = isRecord(ap.spec) ? ap.spec : {};
      if (hasTargetRefs(spec) || !affects(ap) || candidates.some((c) => c.obj === ap)) continue;
      const source = findRuleAttributes(spec).find((a) => a.path.includes('.from[') || a.attribute.startsWith('when key source.'));
      const allow = (spec.action ?? 'ALLOW') === 'ALLOW';
      if (!source && !allow) continue;
      add('authz-moves-with-waypoint', 'waypoint', ref(ap, 'AuthorizationPolicy', ns),
        source
          ? `checks the source (${source.attribute}); behind the waypoint ztunnel sees the waypoint's identity as the source, so the policy moves to the waypoint, which still sees the client.`
          : 'an ALLOW policy left on ztunnel would let requests addressed straight to the pods skip the waypoint and its policies, so it moves to the waypoint too.',
        source?.path ?? 'spec.selector');
      candidates.push({ obj: ap, kind: 'AuthorizationPolicy' });
    }
    const services = snapshot.services(ns);
    for (const { obj, kind } of candidates) {
      const targets = targetsFor(workloadSelectorOf(obj), meshPods, services, waypointName);
      if (targets.refs) rewrites.push({ object: obj, kind, name: nameOf(obj)!, targets: targets.refs });
      else
        add('rewrite-not-exact', 'blocks', ref(obj, kind, ns),
          `cannot be rewritten with targetRefs for the same workloads: ${targets.why}. Give those workloads a Service of their own, or narrow the selector, then re-plan.`, 'spec.selector');
    }
  }

  // Mid-migration (the waypoint exists, the namespace uses it, every rewrite is applied): what is left
  // is restarting the workloads and deleting the originals, so the namespace is ready.
  const rewrittenAs = (r: Rewrite) =>
    inventory.of(ns, r.kind).some((o) => annotationsOf(o)[MIGRATED_FROM] === r.name && hasTargetRefs(isRecord(o.spec) ? o.spec : {}));
  for (const r of rewrites) r.done = rewrittenAs(r);
  const inPlace =
    waypointWanted && labels[ISTIO.useWaypoint] === waypointName && !!snapshot.gateway(ns, waypointName) && rewrites.every((r) => r.done);
  if (inPlace)
    for (const r of reasons)
      if (r.effect === 'waypoint') Object.assign(r, { effect: 'note', message: `${r.message} Done: the namespace uses waypoint ${waypointName}${rewrites.some((w) => w.name === r.object.name) ? ', and the rewrite is applied' : ''}.` });
  const blocked = reasons.some((r) => r.effect === 'blocks') || movingPods.length === 0 && sidecarPods.length > 0;
  const verdict: Verdict = blocked ? 'stays-sidecar' : waypointWanted && !inPlace ? 'needs-waypoint' : 'ready';
  const sorted = reasons.sort((a, b) => effectOrder[a.effect] - effectOrder[b.effect]);
  if (blocked) return { ...base, verdict, reasons: sorted };
  const after = { sidecar: now.sidecar - movingPods.length, ambient: now.ambient + movingPods.length, none: now.none };
  return {
    namespace: ns,
    verdict,
    reasons: sorted,
    now,
    after,
    moving: workloadsOf(movingPods),
    staying: workloadsOf(stayingPods),
    ...(waypointWanted && { waypoint: { name: waypointName, exists: !!existing && existing.namespace === ns && !!snapshot.gateway(ns, waypointName) } }),
    rewrites,
    labelsAfter: waypointWanted ? { ...labelsAfter, [ISTIO.useWaypoint]: waypointName } : labelsAfter,
    movingPods,
    stayingPods,
  };
}

const effectOrder = { blocks: 0, waypoint: 1, note: 2 };

function count(modes: string[]): ModeCounts {
  const c = { sidecar: 0, ambient: 0, none: 0 };
  for (const m of modes) c[m as keyof ModeCounts]++;
  return c;
}

/** The namespace's labels once it is ambient: Istio's ambient label on, sidecar injection off. */
function ambientLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  delete out[ISTIO.injection];
  delete out[ISTIO.rev];
  if (out[MESHGUARD.defaultMode] === 'sidecar') delete out[MESHGUARD.defaultMode];
  out[ISTIO.dataplaneMode] = 'ambient';
  return out;
}

function retargetMessage(kind: PlanKind): string {
  switch (kind) {
    case 'RequestAuthentication':
      return 'ztunnel does not validate JWTs; a waypoint applies a RequestAuthentication that targets it (pilot/pkg/model/authentication.go, ShouldAttachPolicy in policyattachment.go).';
    case 'Telemetry':
      return 'a workload-selected Telemetry configures the sidecar; ztunnel does not read it, and a waypoint applies one that targets it (pilot/pkg/model/telemetry.go, ShouldAttachPolicy in policyattachment.go).';
    default:
      return 'a WasmPlugin runs in the sidecar\'s Envoy; a waypoint runs one that targets it (translated to a TrafficExtension: pilot/pkg/config/kube/extensions/translate.go translateWasmPlugin, attached by ShouldAttachPolicy in policyattachment.go).';
  }
}

/** Root-namespace policies with L7 content that ztunnel would apply mesh-wide (a selector matches pods in every namespace). */
function rootPolicies(inventory: Inventory, policy: Policy): KubeObject[] {
  return inventory.of(policy.rootNamespace, 'AuthorizationPolicy').filter((ap) => {
    const spec = isRecord(ap.spec) ? ap.spec : {};
    if (hasTargetRefs(spec)) return false;
    return spec.action === 'CUSTOM' || spec.action === 'AUDIT' || findRuleAttributes(spec).some((a) => a.layer === 'L7');
  });
}
