// AuthorizationPolicies that ztunnel enforces (bound by `selector`, or namespace-wide, in an ambient
// namespace; or mesh-wide from the root namespace): what ztunnel actually does with them, as istiod
// converts them (pilot/pkg/serviceregistry/ambient/authorization.go, convertAuthorizationPolicy).
// Rules: authz-l7-needs-waypoint, authz-ztunnel-unsupported-field, authz-dry-run-ignored.
import { clientText, quoted, shownValue } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { minorOf } from '../istio-version.js';
import { annotationsOf, isRecord, labelsOf, nameOf, type KubeObject } from '../kube.js';
import { ISTIO } from '../labels.js';
import { meshHasAmbient, namespaceConfig } from '../policy/namespace-config.js';
import { GATEWAY_API, hasTargetRefs, isSet, targetRefsFix } from './authz-binding.js';
import type { ValidationContext } from './index.js';
import { findRuleAttributes, type RuleAttribute } from './l7-attributes.js';
import { waypointRole, waypointsIn } from './waypoint-gateway.js';
import { emptyClause, ztunnelRules, type ZtunnelRule } from './ztunnel-policy.js';

const DRY_RUN = 'istio.io/dry-run';
/** What Go's strconv.ParseBool accepts, which istiod uses for istio.io/dry-run. */
const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];
/** The first Istio version whose istiod reads istio.io/dry-run for ztunnel (EnableWdsDryRunAuthzPol). */
const AMBIENT_DRY_RUN_SINCE = '1.29';
const MAX_LISTED = 8;
const MAX_RULES_DESCRIBED = 4;

/** Where ztunnel picks the policy up, in words, and how to move it to a waypoint. */
interface ZtunnelBinding {
  scope: string;
  fix: string;
}

/**
 * The ztunnel binding of a policy, or undefined when ztunnel never sees it: it has targetRefs, or it
 * lives in a namespace that is not ambient. A root-namespace policy is mesh-wide (scope GLOBAL
 * without a selector; with one it selects workloads in every namespace), so it reaches ztunnel
 * whenever any workload may be ambient.
 */
function ztunnelBinding(spec: Record<string, unknown>, namespace: string, ctx: ValidationContext): ZtunnelBinding | undefined {
  const { snapshot, policy } = ctx;
  if (hasTargetRefs(spec)) return undefined;
  const hasSelector = isSet(spec.selector);
  const fix = `Fix: bind it to a waypoint instead: ${hasSelector ? 'replace spec.selector with' : 'add'} ${targetRefsFix(snapshot, namespace, policy)}`;
  if (namespace === policy.rootNamespace) {
    if (!meshHasAmbient(snapshot, policy)) return undefined;
    const scope = hasSelector
      ? `in the root namespace "${namespace}", spec.selector matches workloads in every namespace and binds this policy to ztunnel for the ambient ones`
      : `in the root namespace "${namespace}" without a selector this policy is mesh-wide: it applies to every ambient workload in every namespace through ztunnel`;
    return { scope, fix: `${fix}.` };
  }
  if (namespaceConfig(snapshot.namespace(namespace), policy).defaultMode !== 'ambient') return undefined;
  const scope = hasSelector
    ? `spec.selector binds this policy to ztunnel in ambient namespace "${namespace}"`
    : `without a selector this policy applies to every workload in ambient namespace "${namespace}" through ztunnel`;
  return { scope, fix: `${fix} (or target a Service that uses the waypoint).` };
}

const actionOf = (spec: Record<string, unknown>) => (spec.action === undefined || spec.action === null ? 'ALLOW' : spec.action);

export function ztunnelFindings(obj: KubeObject, spec: Record<string, unknown>, namespace: string, ctx: ValidationContext): Finding[] {
  const out: Array<Finding | undefined> = [];
  const action = actionOf(spec);
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'CUSTOM' && action !== 'AUDIT') return [];
  const waypointPods = namespace === ctx.policy.rootNamespace || hasTargetRefs(spec) ? undefined : selectedWaypoint(spec, namespace, ctx);
  if (waypointPods) return [waypointPodsSelected(spec, waypointPods, ctx)].filter((f): f is Finding => f !== undefined);
  const binding = ztunnelBinding(spec, namespace, ctx);
  if (!binding) return [];
  if (action === 'CUSTOM' || action === 'AUDIT') return present(unsupportedAction(spec, action, binding, ctx));
  const rules = ztunnelRules(spec);
  out.push(l7NeedsWaypoint(spec, action, rules, binding, ctx));
  out.push(unsupportedFields(action, rules, binding, ctx));
  out.push(dryRunIgnored(obj, binding, ctx));
  return present(...out);
}

const present = (...findings: Array<Finding | undefined>) => findings.filter((f): f is Finding => f !== undefined);

function listAttributes(attrs: RuleAttribute[]): string {
  const listed = attrs.slice(0, MAX_LISTED).map((a) => `${a.attribute} (${a.path})`).join(', ');
  return attrs.length > MAX_LISTED ? `${listed} and ${attrs.length - MAX_LISTED} more` : listed;
}

function listed(items: string[], max = MAX_RULES_DESCRIBED): string {
  const shown = items.slice(0, max).join('; ');
  return items.length > max ? `${shown}; and ${items.length - max} more alike` : shown;
}

function unsupportedAction(spec: Record<string, unknown>, action: string, b: ZtunnelBinding, ctx: ValidationContext): Finding | undefined {
  const l7 = findRuleAttributes(spec).filter((a) => a.layer === 'L7');
  const found = l7.length ? ` It also uses L7 attributes: ${listAttributes(l7)}.` : '';
  return finding(ctx.policy, 'authz-l7-needs-waypoint', 'spec.action',
    `${b.scope}, but ztunnel does not support action ${action}: istiod does not hand such a policy to ztunnel at all (status UnsupportedValue), so it does nothing for ambient workloads.${found} ${b.fix}`);
}

/** What ztunnel does with each rule that has L7 attributes, per action and rule shape. */
function l7Consequence(action: 'ALLOW' | 'DENY', rules: ZtunnelRule[]): string {
  const withL7 = rules.filter((r) => r.hasL7);
  const at = (r: ZtunnelRule) => `spec.rules[${r.index}]`;
  if (action === 'ALLOW') {
    const all = withL7.length === rules.length;
    return (
      `In an ALLOW policy istiod drops every rule that has an L7 attribute before ztunnel sees it (${withL7.map(at).join(', ')}), so the traffic those rules allow is denied` +
      (all ? ': no rule is left, so the policy denies all traffic to the workloads it applies to.' : '; only the other rules still allow traffic.')
    );
  }
  const described = withL7.map((r) => {
    const clause = emptyClause(r);
    if (clause)
      return `${at(r)} is a no-op: without its L7 attributes its ${clause} clause has nothing left to match, and ztunnel skips empty matches, so the rule never fires and blocks nothing`;
    const matches = r.clauses.flatMap((c) => c.matches).filter((m) => m.l7.length > 0);
    const widened = matches.filter((m) => !m.empty).map((m) => m.path);
    const skipped = matches.filter((m) => m.empty).map((m) => m.path);
    const parts = [`${at(r)} is enforced without its L7 attributes`];
    if (widened.length) parts.push(`${widened.join(', ')} then match on their L4 attributes alone, so it denies more than written`);
    if (skipped.length) parts.push(`${skipped.join(', ')} have only L7 attributes and are skipped, so the traffic they name is not denied`);
    return parts.join(': ');
  });
  const effective = rules.some((r) => emptyClause(r) === undefined);
  const summary = effective
    ? 'In a DENY policy istiod leaves the L7 attributes out'
    : 'This DENY policy has no rule ztunnel can fire, so it blocks nothing at all: traffic you meant to block flows';
  return `${summary}. ${listed(described)}.`;
}

function l7NeedsWaypoint(spec: Record<string, unknown>, action: 'ALLOW' | 'DENY', rules: ZtunnelRule[], b: ZtunnelBinding, ctx: ValidationContext) {
  const l7 = findRuleAttributes(spec).filter((a) => a.layer === 'L7');
  if (l7.length === 0) return undefined;
  return finding(ctx.policy, 'authz-l7-needs-waypoint', l7[0].path,
    `${b.scope}, and ztunnel cannot enforce L7 attributes: ${listAttributes(l7)}. ${l7Consequence(action, rules)} ${b.fix}`);
}

/**
 * `trustDomains` / `notTrustDomains` (Istio 1.31): waypoints enforce them, but istiod copies
 * neither into ztunnel's match nor reports them (handleRule), so they vanish without a word.
 */
function unsupportedFields(action: 'ALLOW' | 'DENY', rules: ZtunnelRule[], b: ZtunnelBinding, ctx: ValidationContext): Finding | undefined {
  // An ALLOW rule with L7 attributes is dropped whole; authz-l7-needs-waypoint says so.
  const relevant = rules.filter((r) => !(action === 'ALLOW' && r.hasL7));
  const sentences: string[] = [];
  const fields: string[] = [];
  for (const rule of relevant) {
    const noOp = emptyClause(rule);
    for (const m of rule.clauses.flatMap((c) => c.matches)) {
      if (!m.silent.length) continue;
      fields.push(...m.silent);
      if (!m.empty)
        sentences.push(
          action === 'ALLOW'
            ? `${m.path} then matches peers from every trust domain, so the policy allows traffic from trust domains you meant to leave out`
            : `${m.path} then matches peers from every trust domain, so the policy denies more than written`,
        );
      else if (noOp)
        sentences.push(
          action === 'ALLOW'
            ? `${m.path} has nothing else to match and ztunnel skips it, so spec.rules[${rule.index}] never matches and allows nothing`
            : `${m.path} has nothing else to match and ztunnel skips it, so spec.rules[${rule.index}] never fires: traffic you meant to block flows`,
        );
      else sentences.push(`${m.path} has nothing else to match and ztunnel skips it, so the peers it names are not ${action === 'ALLOW' ? 'allowed' : 'denied'} by it`);
    }
  }
  if (!fields.length) return undefined;
  const names = [...new Set(fields.map((p) => p.slice(p.lastIndexOf('.') + 1)))].join(' and ');
  return finding(ctx.policy, 'authz-ztunnel-unsupported-field', fields[0],
    `${b.scope}, and ztunnel does not support ${names}: istiod drops them from what it sends to ztunnel without any warning (pilot/pkg/serviceregistry/ambient/authorization.go, handleRule copies only ports, IPs, namespaces, service accounts and principals). ${listed(sentences)}. Waypoints enforce ${names}. ${b.fix}`);
}

function dryRunIgnored(obj: KubeObject, b: ZtunnelBinding, ctx: ValidationContext): Finding | undefined {
  const value = annotationsOf(obj)[DRY_RUN];
  if (value === undefined || value === '' || GO_FALSE.includes(value)) return undefined;
  const path = `metadata.annotations["${DRY_RUN}"]`;
  const waypointFix = `bind the policy to a waypoint, which honours ${DRY_RUN}`;
  if (!GO_TRUE.includes(value))
    return finding(ctx.policy, 'authz-dry-run-ignored', path,
      `${DRY_RUN}=${quoted(value)} is not a boolean istiod can parse (Go strconv.ParseBool), so istiod treats the policy as not a dry run and ztunnel enforces it for real. Use "true" or "false".`);
  if (minorOf(ctx.policy.istioVersion) < minorOf(AMBIENT_DRY_RUN_SINCE))
    return finding(ctx.policy, 'authz-dry-run-ignored', path,
      `${b.scope}, but before Istio ${AMBIENT_DRY_RUN_SINCE} istiod does not pass ${DRY_RUN} to ztunnel, so ztunnel enforces this policy for real: it is not a dry run (policy istioVersion ${ctx.policy.istioVersion}). To dry-run it, ${waypointFix}, or upgrade to ${AMBIENT_DRY_RUN_SINCE}+ and enable AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY.`);
  return finding(ctx.policy, 'authz-dry-run-ignored', path,
    `${b.scope}, but istiod hands a dry-run policy to ztunnel only when it runs with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY=true (off by default; pilot/pkg/features/ambient.go); otherwise it drops the policy (status UnsupportedValue), so ztunnel neither enforces nor logs it. To dry-run it, set that environment variable on istiod (with ztunnel ${AMBIENT_DRY_RUN_SINCE} or newer), or ${waypointFix}.`);
}

/**
 * The labels istiod's waypoint template puts on a waypoint's pods
 * (manifests/charts/istio-control/istio-discovery/files/waypoint.yaml), plus the Gateway's
 * spec.infrastructure.labels.
 */
function waypointPodLabels(gateway: KubeObject, className: string): Record<string, string> {
  const name = nameOf(gateway) ?? '';
  const infrastructure = isRecord(gateway.spec) && isRecord(gateway.spec.infrastructure) ? gateway.spec.infrastructure : {};
  return {
    ...labelsOf({ metadata: { labels: infrastructure.labels as Record<string, string> } }),
    'gateway.networking.k8s.io/gateway-name': name,
    'gateway.networking.k8s.io/gateway-class-name': className,
    [ISTIO.dataplaneMode]: 'none',
    [ISTIO.sidecarInject]: 'false',
    'service.istio.io/canonical-name': name,
    'service.istio.io/canonical-revision': 'latest',
  };
}

/** The Istio waypoint whose pods spec.selector.matchLabels selects (istioctl analyze IST0166). */
function selectedWaypoint(spec: Record<string, unknown>, namespace: string, ctx: ValidationContext): KubeObject | undefined {
  const matchLabels = isRecord(spec.selector) ? spec.selector.matchLabels : undefined;
  if (!isRecord(matchLabels)) return undefined;
  const wanted = Object.entries(matchLabels);
  if (!wanted.length) return undefined;
  return waypointsIn(ctx.snapshot, namespace, ctx.policy.istioVersion).find((gateway) => {
    if (waypointRole(gateway, ctx.snapshot, ctx.policy.istioVersion) !== 'istio-waypoint') return false;
    const labels = waypointPodLabels(gateway, isRecord(gateway.spec) && typeof gateway.spec.gatewayClassName === 'string' ? gateway.spec.gatewayClassName : '');
    return wanted.every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
  });
}

function waypointPodsSelected(spec: Record<string, unknown>, gateway: KubeObject, ctx: ValidationContext): Finding | undefined {
  const name = nameOf(gateway) ?? '';
  const matchLabels = isRecord(spec.selector) && isRecord(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  const shown = Object.entries(matchLabels).map(([k, v]) => `${clientText(k)}=${shownValue(v)}`).join(', ');
  return finding(ctx.policy, 'authz-l7-needs-waypoint', 'spec.selector.matchLabels',
    `spec.selector (${shown}) selects the pods of waypoint ${quoted(name)} itself (istioctl analyze IST0166 IneffectiveSelector), so this policy has no effect at all: ` +
    `waypoint pods are labelled ${ISTIO.dataplaneMode}=none, so ztunnel does not capture them, and a waypoint ignores selector-bound policies. ` +
    `Fix: replace spec.selector with spec.targetRefs: [{kind: Gateway, group: ${GATEWAY_API}, name: ${clientText(name)}}], which is how a policy attaches to a waypoint.`);
}
