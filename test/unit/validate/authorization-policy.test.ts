import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile, parsePolicy } from '../../../src/policy/load.js';
import { validateAuthorizationPolicy } from '../../../src/validate/authorization-policy.js';
import type { ValidationInput } from '../../../src/validate/index.js';

const policy = loadPolicyFile();
type Labels = Record<string, string>;

const namespace = (name: string, labels: Labels = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const gateway = (ns: string, name: string, className = 'istio-waypoint'): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name, namespace: ns },
  spec: { gatewayClassName: className, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
});
const service = (ns: string, name: string, labels: Labels = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels } });
const serviceEntry = (ns: string, name: string, labels: Labels = {}): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: ns, labels },
});
const useWaypoint = (name: string): Labels => ({ 'istio.io/use-waypoint': name });

const ambient = { 'istio.io/dataplane-mode': 'ambient' };
function cluster() {
  return new ClusterStore([
    namespace('shop', ambient),
    namespace('bank', { ...ambient, ...useWaypoint('bank-wp') }),
    namespace('fresh', ambient),
    namespace('legacy', { 'istio-injection': 'enabled' }),
    namespace('istio-system'),
    gateway('shop', 'waypoint'),
    gateway('shop', 'ingress', 'istio'),
    gateway('bank', 'bank-wp'),
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'istio-waypoint' }, spec: {} },
    service('shop', 'reviews', useWaypoint('waypoint')),
    service('shop', 'ratings'),
    service('bank', 'accounts'),
    service('bank', 'ledger', useWaypoint('none')),
    serviceEntry('shop', 'payments-api', useWaypoint('waypoint')),
    serviceEntry('shop', 'legacy-api'),
  ]);
}
const snapshot = cluster();

function ap(ns: string, spec: Record<string, unknown>, meta: { labels?: Labels; annotations?: Labels } = {}): KubeObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: ns, ...meta }, spec };
}

function validate(object: KubeObject | undefined, opts: { operation?: ValidationInput['operation']; version?: string; namespace?: string; store?: ClusterStore } = {}) {
  return validateAuthorizationPolicy(
    {
      operation: opts.operation ?? 'CREATE',
      group: 'security.istio.io',
      version: opts.version ?? 'v1',
      kind: 'AuthorizationPolicy',
      namespace: opts.namespace ?? object?.metadata?.namespace,
      name: 'p',
      object,
    },
    { snapshot: opts.store ?? snapshot, policy },
  );
}
const rules = (object: KubeObject, opts: Parameters<typeof validate>[1] = {}) => validate(object, opts).map((f) => f.rule);

const selector = { matchLabels: { app: 'reviews' } };
const toWaypoint = [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }];
const to = (operation: Record<string, unknown>) => [{ to: [{ operation }] }];
const from = (source: Record<string, unknown>) => [{ from: [{ source }] }];
const when = (key: string) => [{ when: [{ key, values: ['x'] }] }];

// What ztunnel enforces: pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
// (httpOperations, httpSources, l4WhenAttributes, convertAuthorizationPolicy).
describe('authz-l7-needs-waypoint', () => {
  it.each([
    ['to.operation.methods', to({ methods: ['GET'] }), to({ ports: ['8080'] }), 'spec.rules[0].to[0].operation.methods'],
    ['to.operation.notMethods', to({ notMethods: ['GET'] }), to({ notPorts: ['8080'] }), 'spec.rules[0].to[0].operation.notMethods'],
    ['to.operation.paths', to({ paths: ['/admin'] }), to({ ports: ['9090'] }), 'spec.rules[0].to[0].operation.paths'],
    ['to.operation.notPaths', to({ notPaths: ['/public'] }), to({ ports: ['9090'] }), 'spec.rules[0].to[0].operation.notPaths'],
    ['to.operation.hosts', to({ hosts: ['a.example'] }), to({ ports: ['443'] }), 'spec.rules[0].to[0].operation.hosts'],
    ['to.operation.notHosts', to({ notHosts: ['a.example'] }), to({ ports: ['443'] }), 'spec.rules[0].to[0].operation.notHosts'],
    ['from.source.requestPrincipals', from({ requestPrincipals: ['iss/sub'] }), from({ principals: ['cluster.local/ns/shop/sa/web'] }), 'spec.rules[0].from[0].source.requestPrincipals'],
    ['from.source.notRequestPrincipals', from({ notRequestPrincipals: ['*'] }), from({ notPrincipals: ['*'] }), 'spec.rules[0].from[0].source.notRequestPrincipals'],
    ['from.source.remoteIpBlocks', from({ remoteIpBlocks: ['10.0.0.0/8'] }), from({ ipBlocks: ['10.0.0.0/8'] }), 'spec.rules[0].from[0].source.remoteIpBlocks'],
    ['from.source.notRemoteIpBlocks', from({ notRemoteIpBlocks: ['10.0.0.0/8'] }), from({ notIpBlocks: ['10.0.0.0/8'] }), 'spec.rules[0].from[0].source.notRemoteIpBlocks'],
    ['serviceAccounts are L4 since 1.25', from({ requestPrincipals: ['iss/sub'] }), from({ serviceAccounts: ['shop/web'], notServiceAccounts: ['shop/batch'] }), 'spec.rules[0].from[0].source.requestPrincipals'],
    ['when request.headers[...]', when('request.headers[x-token]'), when('source.ip'), 'spec.rules[0].when[0].key'],
    ['when source.serviceAccount', when('source.serviceAccount'), when('source.principal'), 'spec.rules[0].when[0].key'],
    ['when connection.sni', when('connection.sni'), when('destination.port'), 'spec.rules[0].when[0].key'],
    ['when request.auth.claims[...]', when('request.auth.claims[iss]'), when('source.namespace'), 'spec.rules[0].when[0].key'],
    ['when destination.ip is L4', when('request.regex.headers[x]'), when('destination.ip'), 'spec.rules[0].when[0].key'],
  ])('%s: L7 denied, its L4 twin allowed', (_name, l7Rules, l4Rules, path) => {
    expect(validate(ap('shop', { selector, rules: l7Rules }))).toEqual([expect.objectContaining({ rule: 'authz-l7-needs-waypoint', path, severity: 'error' })]);
    expect(validate(ap('shop', { selector, rules: l4Rules }))).toEqual([]);
  });

  it.each([
    ['selector-bound', { selector }],
    ['namespace-wide', {}],
  ])('applies to %s policies, not targetRefs ones', (_name, binding) => {
    const spec = { action: 'DENY', rules: to({ paths: ['/admin'] }) };
    expect(rules(ap('shop', { ...binding, ...spec }))).toEqual(['authz-l7-needs-waypoint']);
    expect(rules(ap('shop', { targetRefs: toWaypoint, ...spec }))).toEqual([]);
    expect(rules(ap('shop', { targetRef: toWaypoint[0], ...spec }))).toEqual([]);
  });

  it.each([
    ['a sidecar namespace (sidecars enforce L7)', 'legacy', []],
    ['an ambient namespace', 'shop', ['authz-l7-needs-waypoint']],
  ])('in %s', (_name, ns, expected) => {
    expect(rules(ap(ns, { selector, rules: to({ methods: ['POST'] }) }))).toEqual(expected);
  });

  // What ztunnel does, per action and rule shape: convertAuthorizationPolicy, handleRule, isMatchEmpty
  // and hasEffectiveRules in pilot/pkg/serviceregistry/ambient/authorization.go.
  it('ALLOW: says which rules istiod drops and that the rest still allow traffic', () => {
    const [f] = validate(ap('shop', { selector, rules: [...to({ methods: ['GET'] }), ...from({ namespaces: ['web'] })] }));
    expect(f.message).toMatch(/^\[authz-l7-needs-waypoint\] spec\.selector binds this policy to ztunnel in ambient namespace "shop", and ztunnel cannot enforce L7 attributes: methods \(spec\.rules\[0\]\.to\[0\]\.operation\.methods\)\./);
    expect(f.message).toContain(
      'In an ALLOW policy istiod drops every rule that has an L7 attribute before ztunnel sees it (spec.rules[0]), so the traffic those rules allow is denied; only the other rules still allow traffic.',
    );
  });

  it('ALLOW where every rule has an L7 attribute: says it denies everything', () => {
    const [f] = validate(ap('shop', { selector, rules: [...to({ methods: ['GET'] }), ...from({ requestPrincipals: ['*'] })] }));
    expect(f.message).toContain('(spec.rules[0], spec.rules[1]), so the traffic those rules allow is denied: no rule is left, so the policy denies all traffic to the workloads it applies to.');
    expect(f.message).toContain('methods (spec.rules[0].to[0].operation.methods), requestPrincipals (spec.rules[1].from[0].source.requestPrincipals)');
  });

  it('DENY with only L7 attributes: says the rule is a no-op and the policy blocks nothing at all', () => {
    const [f] = validate(ap('shop', { action: 'DENY', rules: to({ paths: ['/admin'], methods: ['DELETE'] }) }));
    expect(f.message).toContain('without a selector this policy applies to every workload in ambient namespace "shop"');
    expect(f.message).toContain('paths (spec.rules[0].to[0].operation.paths)');
    expect(f.message).toContain('methods (spec.rules[0].to[0].operation.methods)');
    expect(f.message).toContain(
      'This DENY policy has no rule ztunnel can fire, so it blocks nothing at all: traffic you meant to block flows. ' +
        'spec.rules[0] is a no-op: without its L7 attributes its to clause has nothing left to match, and ztunnel skips empty matches, so the rule never fires and blocks nothing.',
    );
    expect(f.message).not.toContain('L4 parts');
  });

  // Release note 61126: one emptied clause (from, to, or a when) makes the whole rule a no-op, even
  // when another clause still has L4 attributes.
  it.each([
    ['to emptied, from kept', [{ from: [{ source: { namespaces: ['web'] } }], to: [{ operation: { methods: ['DELETE'] } }] }], 'to'],
    ['from emptied, to kept', [{ from: [{ source: { requestPrincipals: ['*'] } }], to: [{ operation: { ports: ['8080'] } }] }], 'from'],
    ['an L7 when key, to kept', [{ to: [{ operation: { ports: ['8080'] } }], when: [{ key: 'request.headers[x-debug]', values: ['1'] }] }], 'when[0]'],
  ])('DENY: a rule with an emptied clause is a no-op (%s)', (_name, rulesSpec, clause) => {
    const [f] = validate(ap('shop', { selector, action: 'DENY', rules: rulesSpec }));
    expect(f.message).toContain('This DENY policy has no rule ztunnel can fire, so it blocks nothing at all');
    expect(f.message).toContain(`spec.rules[0] is a no-op: without its L7 attributes its ${clause} clause has nothing left to match`);
  });

  it('DENY mixing L4 and L7 in one match: says the match is widened and the policy denies more', () => {
    const [f] = validate(ap('shop', { selector, action: 'DENY', rules: to({ ports: ['8080'], methods: ['DELETE'] }) }));
    expect(f.message).toContain(
      'In a DENY policy istiod leaves the L7 attributes out. spec.rules[0] is enforced without its L7 attributes: spec.rules[0].to[0] then match on their L4 attributes alone, so it denies more than written.',
    );
    expect(f.message).not.toContain('blocks nothing');
  });

  it('DENY with an L7-only alternative next to an L4 one: says the L7 alternative is skipped', () => {
    const rulesSpec = [{ to: [{ operation: { methods: ['DELETE'] } }, { operation: { ports: ['9090'] } }] }];
    const [f] = validate(ap('shop', { selector, action: 'DENY', rules: rulesSpec }));
    expect(f.message).toContain('spec.rules[0] is enforced without its L7 attributes: spec.rules[0].to[0] have only L7 attributes and are skipped, so the traffic they name is not denied.');
  });

  it('DENY where an L4-only rule still fires: does not say the policy blocks nothing', () => {
    const [f] = validate(ap('shop', { selector, action: 'DENY', rules: [...to({ ports: ['9090'] }), ...to({ paths: ['/admin'] })] }));
    expect(f.message).toContain('In a DENY policy istiod leaves the L7 attributes out. spec.rules[1] is a no-op');
    expect(f.message).not.toContain('blocks nothing at all');
  });

  it.each(['CUSTOM', 'AUDIT'])('%s: not bound to ztunnel at all, even with only L4 attributes', (action) => {
    const l4Only = { selector, action, provider: { name: 'ext-authz' }, rules: to({ ports: ['8080'] }) };
    const [f] = validate(ap('shop', l4Only));
    expect(f).toMatchObject({ rule: 'authz-l7-needs-waypoint', path: 'spec.action' });
    expect(f.message).toContain(`ztunnel does not support action ${action}: istiod does not hand such a policy to ztunnel at all`);
    expect(validate(ap('shop', { ...l4Only, selector: undefined, targetRefs: toWaypoint }))).toEqual([]);
  });

  it.each([
    ['a namespace with a waypoint', 'shop', 'replace spec.selector with spec.targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]'],
    ["the namespace's use-waypoint label", 'bank', 'name: bank-wp}]'],
    ['no waypoint yet', 'fresh', 'name: waypoint}] after deploying a waypoint (istioctl waypoint apply -n fresh --enroll-namespace)'],
  ])('suggests targetRefs naming the waypoint: %s', (_name, ns, fix) => {
    const [f] = validate(ap(ns, { selector, rules: to({ methods: ['GET'] }) }));
    expect(f.message).toContain(fix);
  });

  it('suggests adding targetRefs to a namespace-wide policy', () => {
    const [f] = validate(ap('shop', { rules: to({ methods: ['GET'] }) }));
    expect(f.message).toContain('Fix: bind it to a waypoint instead: add spec.targetRefs');
  });

  it('points at a waypoint in another namespace and says where the policy must live', () => {
    const store = cluster();
    store.upsert(namespace('web', { ...ambient, ...useWaypoint('shared'), 'istio.io/use-waypoint-namespace': 'infra' }));
    const [f] = validate(ap('web', { selector, rules: to({ methods: ['GET'] }) }), { store });
    expect(f.message).toContain('name: shared}] in a policy in namespace "infra"');
  });

  it('treats an unknown namespace with the cluster default mode (ambient in the shipped policy)', () => {
    expect(rules(ap('unknown', { selector, rules: to({ methods: ['GET'] }) }))).toEqual(['authz-l7-needs-waypoint']);
  });

  it('lists at most 8 attributes and counts the rest', () => {
    const many = Array.from({ length: 10 }, (_, i) => ({ to: [{ operation: { paths: [`/p${i}`] } }] }));
    const [f] = validate(ap('shop', { selector, rules: many }));
    expect(f.message).toContain('and 2 more');
  });
});

describe('authz-target-not-found', () => {
  it.each([
    ['Gateway', { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint-typo' }, { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }],
    ['Service', { kind: 'Service', group: '', name: 'review' }, { kind: 'Service', group: '', name: 'reviews' }],
    ['Service with group "core"', { kind: 'Service', group: 'core', name: 'review' }, { kind: 'Service', group: 'core', name: 'reviews' }],
    ['ServiceEntry', { kind: 'ServiceEntry', group: 'networking.istio.io', name: 'payments' }, { kind: 'ServiceEntry', group: 'networking.istio.io', name: 'payments-api' }],
  ])('%s', (_name, missing, existing) => {
    const findings = validate(ap('shop', { targetRefs: [missing] }));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-target-not-found', path: 'spec.targetRefs[0].name' })]);
    expect(findings[0].message).toContain(`does not exist in namespace "shop"`);
    expect(validate(ap('shop', { targetRefs: [existing] }))).toEqual([]);
  });

  it('lists the waypoints of the namespace for a missing Gateway', () => {
    const [f] = validate(ap('shop', { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'wp' } }));
    expect(f).toMatchObject({ path: 'spec.targetRef.name' });
    expect(f.message).toContain('(waypoints in "shop": waypoint)');
  });

  it('looks in the policy namespace, not elsewhere', () => {
    expect(rules(ap('bank', { targetRefs: toWaypoint }))).toEqual(['authz-target-not-found']);
  });

  it('checks a GatewayClass in the root namespace', () => {
    const ref = (name: string) => ({ targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name }] });
    expect(rules(ap('istio-system', ref('istio-waypoints')))).toEqual(['authz-target-not-found']);
    expect(rules(ap('istio-system', ref('istio-waypoint')))).toEqual([]);
  });

  it.each(['Gateway', 'Service', 'ServiceEntry'] as const)('is off when the cluster does not serve %s', (kind) => {
    const store = cluster();
    store.setServed(kind, false);
    const groups = { Gateway: 'gateway.networking.k8s.io', Service: '', ServiceEntry: 'networking.istio.io' };
    expect(validate(ap('shop', { targetRefs: [{ kind, group: groups[kind], name: 'nothing' }] }), { store })).toEqual([]);
  });
});

describe('authz-target-not-waypoint', () => {
  const ref = (kind: string, name: string) => ({
    targetRefs: [{ kind, group: kind === 'Service' ? '' : 'networking.istio.io', name }],
    rules: to({ methods: ['GET'] }),
  });
  it.each([
    ['Service without use-waypoint in a namespace without it', 'shop', ref('Service', 'ratings'), ref('Service', 'reviews'), 'neither it nor namespace "shop" has the label istio.io/use-waypoint'],
    ['Service that opts out with none', 'bank', ref('Service', 'ledger'), ref('Service', 'accounts'), 'it has istio.io/use-waypoint=none'],
    ['ServiceEntry without use-waypoint', 'shop', ref('ServiceEntry', 'legacy-api'), ref('ServiceEntry', 'payments-api'), 'neither it nor namespace'],
  ])('%s', (_name, ns, denied, allowed, reason) => {
    const findings = validate(ap(ns, denied));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-target-not-waypoint', path: 'spec.targetRefs[0]' })]);
    expect(findings[0].message).toContain(reason);
    expect(findings[0].message).toMatch(/kubectl label (service|serviceentry) \S+ -n \S+ istio\.io\/use-waypoint=\S+/);
    expect(validate(ap(ns, allowed))).toEqual([]);
  });

  it("follows the service's own label over its namespace's", () => {
    const store = cluster();
    store.upsert(service('bank', 'vault', useWaypoint('none')));
    store.upsert(service('shop', 'cart', useWaypoint('waypoint')));
    expect(rules(ap('bank', { targetRefs: [{ kind: 'Service', group: '', name: 'vault' }] }), { store })).toEqual(['authz-target-not-waypoint']);
    expect(rules(ap('shop', { targetRefs: [{ kind: 'Service', group: '', name: 'cart' }] }), { store })).toEqual([]);
  });

  it('says nothing when the namespace is unknown and the service has no label', () => {
    const store = new ClusterStore([service('ghost', 'svc')]);
    expect(validate(ap('ghost', { targetRefs: [{ kind: 'Service', group: '', name: 'svc' }] }), { store })).toEqual([]);
  });
});

describe('authz-target-invalid', () => {
  const gwc = { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' };
  it.each([
    ['GatewayClass target outside the root namespace', ap('shop', { targetRefs: [gwc] }), ap('istio-system', { targetRefs: [gwc] }), 'spec.targetRefs[0]'],
    ['selector with targetRefs', ap('shop', { selector, targetRefs: toWaypoint }), ap('shop', { targetRefs: toWaypoint }), 'spec.selector'],
    ['selector with targetRef', ap('shop', { selector, targetRef: toWaypoint[0] }), ap('shop', { targetRef: toWaypoint[0] }), 'spec.selector'],
    ['targetRef with targetRefs', ap('shop', { targetRef: toWaypoint[0], targetRefs: toWaypoint }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRef'],
    ['more than 16 targetRefs', ap('shop', { targetRefs: Array(17).fill(toWaypoint[0]) }), ap('shop', { targetRefs: Array(16).fill(toWaypoint[0]) }), 'spec.targetRefs'],
    ['a targetRef with a namespace', ap('shop', { targetRefs: [{ ...toWaypoint[0], namespace: 'shop' }] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs[0].namespace'],
    ['a kind that cannot be a target', ap('shop', { targetRefs: [{ kind: 'Deployment', group: 'apps', name: 'reviews' }] }), ap('shop', { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }] }), 'spec.targetRefs[0].kind'],
    ['a Gateway without its group', ap('shop', { targetRefs: [{ kind: 'Gateway', name: 'waypoint' }] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs[0].group'],
    ["Istio's own Gateway kind", ap('shop', { targetRefs: [{ kind: 'Gateway', group: 'networking.istio.io', name: 'waypoint' }] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs[0].group'],
    ['a targetRef without a name', ap('shop', { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io' } }), ap('shop', { targetRef: toWaypoint[0] }), 'spec.targetRef.name'],
    // Shapes the CRD schema rejects on a live cluster, which `meshguard check` has no schema for.
    ['targetRef given as a list', ap('shop', { targetRef: toWaypoint }), ap('shop', { targetRef: toWaypoint[0] }), 'spec.targetRef'],
    ['targetRef given as a string', ap('shop', { targetRef: 'waypoint' }), ap('shop', { targetRef: toWaypoint[0] }), 'spec.targetRef'],
    ['targetRefs given as one object', ap('shop', { targetRefs: toWaypoint[0] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs'],
    ['targetRefs given as a string', ap('shop', { targetRefs: 'waypoint' }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs'],
    ['a targetRefs element that is a string', ap('shop', { targetRefs: ['waypoint'] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs[0]'],
    ['a targetRefs element that is a list', ap('shop', { targetRefs: [toWaypoint] }), ap('shop', { targetRefs: toWaypoint }), 'spec.targetRefs[0]'],
  ])('%s', (_name, denied, allowed, path) => {
    const findings = validate(denied);
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-target-invalid', path })]);
    expect(validate(allowed)).toEqual([]);
  });

  it.each(['constructor', 'toString', '__proto__'])('a target kind %j is not a target kind (no Object.prototype lookup)', (kind) => {
    const [f, ...rest] = validate(ap('shop', { targetRefs: [{ kind, group: '', name: 'reviews' }] }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'authz-target-invalid', path: 'spec.targetRefs[0].kind' });
    expect(f.message).toContain(`kind "${kind}" cannot be a policy target`);
  });

  it('says what shape a malformed targetRef has and how to write it', () => {
    const [f] = validate(ap('shop', { targetRef: toWaypoint }));
    expect(f.message).toBe(
      '[authz-target-invalid] spec.targetRef must be one object such as {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}, but it is a list; for several targets use spec.targetRefs (a list).',
    );
  });

  it('names the root namespace and the way out for a GatewayClass target', () => {
    const [f] = validate(ap('shop', { targetRefs: [gwc] }));
    expect(f.message).toContain('only for a policy in the root namespace "istio-system"; move the policy there, or target a Gateway in "shop"');
  });
});

describe('authz-misplaced-waypoint-label', () => {
  // A well-known article puts istio.io/waypoint-for on the policy; it does nothing there.
  it.each([
    ['label istio.io/waypoint-for', { labels: { 'istio.io/waypoint-for': 'service' } }, 'metadata.labels["istio.io/waypoint-for"]'],
    ['annotation istio.io/waypoint-for', { annotations: { 'istio.io/waypoint-for': 'service' } }, 'metadata.annotations["istio.io/waypoint-for"]'],
    ['label istio.io/use-waypoint', { labels: { 'istio.io/use-waypoint': 'waypoint' } }, 'metadata.labels["istio.io/use-waypoint"]'],
    ['annotation istio.io/use-waypoint', { annotations: { 'istio.io/use-waypoint': 'waypoint' } }, 'metadata.annotations["istio.io/use-waypoint"]'],
  ])('%s', (_name, meta, path) => {
    const spec = { targetRefs: toWaypoint, rules: to({ methods: ['GET'] }) };
    const findings = validate(ap('shop', spec, meta));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-misplaced-waypoint-label', path })]);
    expect(findings[0].message).toContain('spec.targetRefs');
    expect(validate(ap('shop', spec, { labels: { app: 'reviews' } }))).toEqual([]);
  });

  it('suggests targetRefs when the policy has none', () => {
    const [f] = validate(ap('shop', { selector, rules: to({ ports: ['80'] }) }, { annotations: { 'istio.io/waypoint-for': 'service' } }));
    expect(f.message).toContain('remove it and attach the policy with spec.targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]');
  });
});

describe('authz-removed-when-key', () => {
  // istiod rejects these keys ("only supported in v1alpha1" for destination.name and destination.user).
  it.each([
    ['destination.name', 'source.principal', 'spec.selector'],
    ['destination.user', 'source.principal', 'spec.selector'],
    ['destination.namespace', 'source.namespace', 'metadata.namespace'],
    ['destination.labels', 'destination.port', 'spec.selector.matchLabels'],
    ['destination.labels[app]', 'destination.ip', 'spec.selector.matchLabels'],
  ])('%s', (removed, allowed, advice) => {
    const findings = validate(ap('legacy', { rules: [{ when: [{ key: 'source.ip', values: ['1.2.3.4'] }, { key: removed, values: ['x'] }] }] }));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-removed-when-key', path: 'spec.rules[0].when[1].key' })]);
    expect(findings[0].message).toContain(`when key "${removed}" was removed from AuthorizationPolicy and istiod rejects the policy`);
    expect(findings[0].message).toContain(advice);
    expect(validate(ap('legacy', { rules: [{ when: [{ key: 'source.ip', values: ['1.2.3.4'] }, { key: allowed, values: ['x'] }] }] }))).toEqual([]);
  });

  it('is not reported again as an L7 attribute in an ambient namespace', () => {
    expect(rules(ap('shop', { selector, rules: when('destination.name') }))).toEqual(['authz-removed-when-key']);
  });
});

describe('validateAuthorizationPolicy', () => {
  const bad = ap('shop', { selector, rules: to({ methods: ['GET'] }) }, { labels: { 'istio.io/waypoint-for': 'service' } });

  it.each([
    ['CREATE', 'v1', 2],
    ['UPDATE', 'v1', 2],
    ['CREATE', 'v1beta1', 2],
    ['DELETE', 'v1', 0],
    ['CONNECT', 'v1', 0],
    ['CREATE', 'v1alpha1', 0],
  ] as const)('%s %s', (operation, version, count) => {
    expect(validate(bad, { operation, version })).toHaveLength(count);
  });

  it('finds several problems in one policy, each once', () => {
    const spec = { selector, targetRefs: [{ kind: 'Service', group: '', name: 'ratings' }, { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'nope' }] };
    expect(validate(ap('shop', spec)).map((f) => [f.rule, f.path])).toEqual([
      ['authz-target-invalid', 'spec.selector'],
      ['authz-target-not-waypoint', 'spec.targetRefs[0]'],
      ['authz-target-not-found', 'spec.targetRefs[1].name'],
    ]);
  });

  it('takes the namespace from the object when the request has none (offline check)', () => {
    expect(validate(bad, { namespace: undefined }).map((f) => f.rule)).toContain('authz-l7-needs-waypoint');
  });

  it.each([
    ['no object', undefined],
    ['spec is a list', { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { namespace: 'shop' }, spec: [] }],
    ['rules is a string', ap('shop', { selector, rules: 'allow-all' })],
    ['rules hold junk', ap('shop', { selector, rules: [null, 1, [], { from: 'x', to: [null, { operation: [] }], when: [null, { key: 3 }, { key: '' }] }] })],
    ['operation lists are strings', ap('shop', { selector, rules: to({ methods: 'GET', paths: null }) })],
    ['targetRefs hold junk', ap('shop', { targetRefs: [null, 'x', 3, { kind: 3, name: [] }] })],
    ['action is a number', ap('shop', { selector, action: 3, rules: to({ methods: ['GET'] }) })],
    ['metadata is a list', { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: [] as unknown as KubeObject['metadata'], spec: {} }],
  ])('never throws: %s', (_name, object) => {
    expect(() => validate(object as KubeObject)).not.toThrow();
  });
});

describe('validateAuthorizationPolicy on arbitrary input', () => {
  const junk = fc.jsonValue({ maxDepth: 2 });
  const or = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, junk);
  const strings = or(fc.array(or(fc.constantFrom('GET', '/a', '8080', '*', '')), { maxLength: 3 }));
  const fields = (...names: string[]) => or(fc.dictionary(fc.constantFrom(...names), strings, { maxKeys: 4 }));
  const ref = or(fc.record({ kind: or(fc.constantFrom('Gateway', 'GatewayClass', 'Service', 'ServiceEntry', 'Pod')), group: or(fc.constantFrom('', 'core', 'gateway.networking.k8s.io', 'networking.istio.io')), name: or(fc.constantFrom('waypoint', 'reviews', 'ratings', 'nope', '')), namespace: junk }, { requiredKeys: [] }));
  const rule = or(
    fc.record(
      {
        from: or(fc.array(or(fc.record({ source: fields('principals', 'requestPrincipals', 'serviceAccounts', 'remoteIpBlocks', 'ipBlocks') }, { requiredKeys: [] })), { maxLength: 2 })),
        to: or(fc.array(or(fc.record({ operation: fields('ports', 'methods', 'paths', 'hosts', 'notPaths') }, { requiredKeys: [] })), { maxLength: 2 })),
        when: or(fc.array(or(fc.record({ key: or(fc.constantFrom('source.ip', 'request.headers[x]', 'destination.name', 'destination.labels[a]', '')), values: strings }, { requiredKeys: [] })), { maxLength: 2 })),
      },
      { requiredKeys: [] },
    ),
  );
  const spec = or(
    fc.record(
      { selector: junk, action: or(fc.constantFrom('ALLOW', 'DENY', 'CUSTOM', 'AUDIT')), targetRef: ref, targetRefs: or(fc.array(ref, { maxLength: 3 })), rules: or(fc.array(rule, { maxLength: 3 })) },
      { requiredKeys: [] },
    ),
  );
  const meta = or(fc.record({ labels: or(fc.dictionary(fc.constantFrom('istio.io/waypoint-for', 'app'), junk)), annotations: junk, namespace: junk }, { requiredKeys: [] }));

  it('never throws, and every finding names a known rule and carries its id', () => {
    fc.assert(
      fc.property(fc.constantFrom('shop', 'bank', 'legacy', 'istio-system'), meta, spec, (ns, metadata, s) => {
        const object = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata, spec: s } as KubeObject;
        for (const f of validate(object, { namespace: ns })) expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

// trustDomains / notTrustDomains (1.31): istiod copies neither into ztunnel's match and reports
// nothing (handleRule in pilot/pkg/serviceregistry/ambient/authorization.go); waypoints enforce them
// (pilot/pkg/security/authz/model/model.go, srcTrustDomainGenerator).
describe('authz-ztunnel-unsupported-field', () => {
  const tdRule = (source: Record<string, unknown>) => [{ from: [{ source }] }];
  it.each([
    ['ALLOW with trustDomains next to namespaces', 'ALLOW', { namespaces: ['web'], trustDomains: ['partner.example'] }, 'spec.rules[0].from[0].source.trustDomains',
      'spec.rules[0].from[0] then matches peers from every trust domain, so the policy allows traffic from trust domains you meant to leave out'],
    ['ALLOW with notTrustDomains alone', 'ALLOW', { notTrustDomains: ['evil.example'] }, 'spec.rules[0].from[0].source.notTrustDomains',
      'spec.rules[0].from[0] has nothing else to match and ztunnel skips it, so spec.rules[0] never matches and allows nothing'],
    ['DENY with trustDomains next to principals', 'DENY', { principals: ['*'], trustDomains: ['old.example'] }, 'spec.rules[0].from[0].source.trustDomains',
      'spec.rules[0].from[0] then matches peers from every trust domain, so the policy denies more than written'],
    ['DENY with notTrustDomains alone', 'DENY', { notTrustDomains: ['cluster.local'] }, 'spec.rules[0].from[0].source.notTrustDomains',
      'spec.rules[0].from[0] has nothing else to match and ztunnel skips it, so spec.rules[0] never fires: traffic you meant to block flows'],
  ])('%s: denied bound to ztunnel, allowed bound to a waypoint', (_name, action, source, path, consequence) => {
    const findings = validate(ap('shop', { selector, action, rules: tdRule(source) }));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-ztunnel-unsupported-field', severity: 'error', path })]);
    expect(findings[0].message).toContain('istiod drops them from what it sends to ztunnel without any warning');
    expect(findings[0].message).toContain(consequence);
    expect(findings[0].message).toContain('Fix: bind it to a waypoint instead: replace spec.selector with spec.targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]');
    expect(validate(ap('shop', { targetRefs: toWaypoint, action, rules: tdRule(source) }))).toEqual([]);
  });

  it('is not reported for a sidecar namespace, where the sidecar enforces it', () => {
    expect(validate(ap('legacy', { selector, rules: tdRule({ namespaces: ['web'], trustDomains: ['x'] }) }))).toEqual([]);
  });

  it('leaves an ALLOW rule that istiod drops anyway (L7) to authz-l7-needs-waypoint', () => {
    expect(rules(ap('shop', { selector, rules: [{ from: [{ source: { trustDomains: ['x'] } }], to: [{ operation: { methods: ['GET'] } }] }] }))).toEqual(['authz-l7-needs-waypoint']);
  });

  // The when key source.trustDomain is not in l4WhenAttributes: istiod treats it as an HTTP attribute
  // and names it in its status, so it is an L7 attribute like any other.
  it('treats the when key source.trustDomain as L7', () => {
    expect(validate(ap('shop', { selector, rules: when('source.trustDomain') }))).toEqual([
      expect.objectContaining({ rule: 'authz-l7-needs-waypoint', path: 'spec.rules[0].when[0].key' }),
    ]);
  });
});

// istio.io/dry-run on a ztunnel-bound policy: convertAuthorizationPolicy drops it unless
// features.EnableWdsDryRunAuthzPol (AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY, 1.29+).
describe('authz-dry-run-ignored', () => {
  const dryRun = (value: string) => ({ annotations: { 'istio.io/dry-run': value } });
  const l4 = { selector, action: 'DENY', rules: to({ ports: ['22'] }) };
  it('warns that the policy is dropped, and is silent for a waypoint-bound twin', () => {
    const findings = validate(ap('shop', l4, dryRun('true')));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-dry-run-ignored', severity: 'warning', path: 'metadata.annotations["istio.io/dry-run"]' })]);
    expect(findings[0].message).toContain('istiod hands a dry-run policy to ztunnel only when it runs with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY=true');
    expect(findings[0].message).toContain('so ztunnel neither enforces nor logs it');
    expect(validate(ap('shop', { targetRefs: toWaypoint, action: 'DENY', rules: to({ ports: ['22'] }) }, dryRun('true')))).toEqual([]);
  });

  it.each(['false', 'F', '0', ''])('says nothing for dry-run=%j', (value) => {
    expect(validate(ap('shop', l4, dryRun(value)))).toEqual([]);
  });

  it('says a value Go cannot parse makes istiod enforce the policy', () => {
    const [f] = validate(ap('shop', l4, dryRun('yes')));
    expect(f.message).toContain('istio.io/dry-run="yes" is not a boolean istiod can parse (Go strconv.ParseBool), so istiod treats the policy as not a dry run and ztunnel enforces it for real');
  });
});

// Root namespace: convertAuthorizationPolicy gives a policy there without a selector scope GLOBAL;
// with a selector it selects workloads in every namespace.
describe('root-namespace policies', () => {
  it('judges a policy in the root namespace as mesh-wide, whatever the root namespace itself is', () => {
    const store = cluster();
    const policyWithL7 = ap('istio-system', { action: 'DENY', rules: to({ paths: ['/admin'] }) });
    const [f] = validate(policyWithL7, { store });
    expect(f.rule).toBe('authz-l7-needs-waypoint');
    expect(f.message).toContain('in the root namespace "istio-system" without a selector this policy is mesh-wide: it applies to every ambient workload in every namespace through ztunnel');
    expect(f.message).toContain('add spec.targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]');
    expect(validate(ap('istio-system', { targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' }], action: 'DENY', rules: to({ paths: ['/admin'] }) }), { store })).toEqual([]);
  });

  it('says a root-namespace selector matches workloads in every namespace', () => {
    const [f] = validate(ap('istio-system', { selector, rules: to({ methods: ['GET'] }) }));
    expect(f.message).toContain('in the root namespace "istio-system", spec.selector matches workloads in every namespace and binds this policy to ztunnel for the ambient ones');
  });

  it('says nothing when no namespace is ambient and the cluster default is not ambient', () => {
    const sidecarPolicy = parsePolicy('clusterDefaultMode: sidecar\n');
    const store = new ClusterStore([namespace('istio-system'), namespace('legacy', { 'istio-injection': 'enabled' })]);
    const object = ap('istio-system', { action: 'DENY', rules: to({ paths: ['/admin'] }) });
    const input = { operation: 'CREATE' as const, group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy', namespace: 'istio-system', object };
    expect(validateAuthorizationPolicy(input, { snapshot: store, policy: sidecarPolicy })).toEqual([]);
    store.upsert(namespace('shop', ambient));
    expect(validateAuthorizationPolicy(input, { snapshot: store, policy: sidecarPolicy }).map((f) => f.rule)).toEqual(['authz-l7-needs-waypoint']);
  });
});

// istioctl analyze IST0166 IneffectiveSelector (pkg/config/analysis/analyzers/k8sgateway/workloadselector.go):
// a selector that matches a waypoint's pods. Their labels come from istiod's waypoint template
// (manifests/charts/istio-control/istio-discovery/files/waypoint.yaml), which sets dataplane-mode=none.
describe('a selector that selects the waypoint pods', () => {
  it.each([
    ['gateway-name', { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }],
    ['canonical name', { 'service.istio.io/canonical-name': 'waypoint' }],
  ])('says the policy has no effect, not that it denies all traffic (%s)', (_name, matchLabels) => {
    const findings = validate(ap('shop', { selector: { matchLabels }, rules: to({ methods: ['GET'] }) }));
    expect(findings).toEqual([expect.objectContaining({ rule: 'authz-l7-needs-waypoint', path: 'spec.selector.matchLabels' })]);
    expect(findings[0].message).toContain('selects the pods of waypoint "waypoint" itself (istioctl analyze IST0166 IneffectiveSelector), so this policy has no effect at all');
    expect(findings[0].message).toContain('ztunnel does not capture them, and a waypoint ignores selector-bound policies');
    expect(findings[0].message).not.toContain('denies all traffic');
    expect(validate(ap('shop', { targetRefs: toWaypoint, rules: to({ methods: ['GET'] }) }))).toEqual([]);
  });

  it('does not mistake an ordinary workload selector for one', () => {
    expect(rules(ap('shop', { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'ingress' } }, rules: to({ ports: ['80'] }) }))).toEqual([]);
  });
});
