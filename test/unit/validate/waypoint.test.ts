import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { parsePolicy, withIstioVersion } from '../../../src/policy/load.js';
import type { ValidationInput } from '../../../src/validate/index.js';
import { validateWaypoints } from '../../../src/validate/waypoint.js';

// A minimal policy: these rules take their default severities, whatever the shipped policy file says.
const policy = parsePolicy('clusterDefaultMode: ambient');
const MESH = { name: 'mesh', port: 15008, protocol: 'HBONE' };
type Labels = Record<string, string>;

const namespace = (name: string, labels: Labels = {}, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
  ...extra,
});

function gateway(ns: string, name: string, opts: { labels?: Labels; annotations?: Labels; className?: string; listeners?: unknown[] } = {}): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: ns, labels: opts.labels ?? {}, annotations: opts.annotations ?? {} },
    spec: { gatewayClassName: opts.className ?? 'istio-waypoint', listeners: opts.listeners ?? [MESH] },
  };
}

const gatewayClass = (name: string, controllerName: string, labels: Labels = {}, annotations: Labels = {}): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'GatewayClass',
  metadata: { name, labels, annotations },
  spec: { controllerName },
});

const crossNs = (from: string, selector?: unknown) => ({ ...MESH, allowedRoutes: { namespaces: { from, selector } } });

const service = (ns: string, name: string, labels: Labels): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels } });
const serviceEntry = (ns: string, name: string, labels: Labels): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: ns, labels },
});
const pod = (ns: string, name: string, labels: Labels): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels } });

const use = (name: string, ns?: string): Labels => ({ 'istio.io/use-waypoint': name, ...(ns ? { 'istio.io/use-waypoint-namespace': ns } : {}) });

/** An admission input for creating (or, with `operation`, otherwise touching) an object. */
function input(object: KubeObject, operation: ValidationInput['operation'] = 'CREATE'): ValidationInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  const namespaced = object.kind !== 'Namespace' && object.kind !== 'GatewayClass';
  return {
    operation,
    group,
    version,
    kind: object.kind!,
    name: object.metadata?.name,
    namespace: namespaced ? object.metadata?.namespace : undefined,
    ...(operation === 'DELETE' ? { oldObject: object } : { object }),
  };
}

const isInput = (s: KubeObject | ValidationInput): s is ValidationInput => 'operation' in s;

function rulesFor(subject: KubeObject | ValidationInput, cluster: KubeObject[], configure?: (store: ClusterStore) => void): string[] {
  const store = new ClusterStore(cluster);
  configure?.(store);
  const findings = validateWaypoints(isInput(subject) ? subject : input(subject), { snapshot: store, policy });
  for (const f of findings) expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
  return findings.map((f) => f.rule);
}

interface Case {
  name: string;
  subject: KubeObject | ValidationInput;
  cluster?: KubeObject[];
  expected: string[];
}

const bookinfo = namespace('bookinfo', { 'istio.io/dataplane-mode': 'ambient' });
const waypoint = gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'service' } });

describe('waypoint Gateways', () => {
  it.each<Case>([
    { name: 'no listeners: denied', subject: gateway('bookinfo', 'waypoint', { listeners: [] }), expected: ['waypoint-listener-invalid'] },
    { name: 'the generated listener: allowed', subject: gateway('bookinfo', 'waypoint'), expected: [] },
    {
      name: 'mesh listener on HTTP/80: denied',
      subject: gateway('bookinfo', 'waypoint', { listeners: [{ name: 'mesh', port: 80, protocol: 'HTTP' }] }),
      expected: ['waypoint-listener-invalid'],
    },
    {
      name: 'HBONE/15008 under another name (istiod matches port and protocol): allowed',
      subject: gateway('bookinfo', 'waypoint', { listeners: [{ name: 'hbone', port: 15008, protocol: 'HBONE' }] }),
      expected: [],
    },
    {
      name: 'ingress Gateway without an HBONE listener: allowed',
      subject: gateway('bookinfo', 'ingress', { className: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
      expected: [],
    },
    {
      name: 'custom class of the mesh controller without listener: denied',
      subject: gateway('bookinfo', 'waypoint', { className: 'team-waypoint', listeners: [] }),
      cluster: [gatewayClass('team-waypoint', 'istio.io/mesh-controller')],
      expected: ['waypoint-listener-invalid'],
    },
    // One definition of "is a waypoint", from the class's controller
    // (pilot/pkg/config/kube/gatewaycommon/classinfo.go, GetClassInfos).
    {
      name: 'class named istio-waypoint but of another controller: not an Istio waypoint, no listener needed',
      subject: gateway('bookinfo', 'waypoint', { listeners: [] }),
      cluster: [gatewayClass('istio-waypoint', 'example.com/gateway')],
      expected: [],
    },
    {
      name: 'agentgateway waypoint class (1.31) without the HBONE listener: denied',
      subject: gateway('bookinfo', 'waypoint', { className: 'istio-agentgateway-waypoint', listeners: [] }),
      expected: ['waypoint-listener-invalid'],
    },
    {
      name: 'agentgateway waypoint class (1.31) with the HBONE listener: allowed',
      subject: gateway('bookinfo', 'waypoint', { className: 'istio-agentgateway-waypoint' }),
      expected: [],
    },
    {
      name: 'agentgateway ingress class without the HBONE listener: allowed',
      subject: gateway('bookinfo', 'ingress', { className: 'istio-agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
      expected: [],
    },
    {
      name: 'a class of the agentgateway waypoint controller under another name: denied without the listener',
      subject: gateway('bookinfo', 'waypoint', { className: 'agw', listeners: [] }),
      cluster: [gatewayClass('agw', 'istio.io/agentgateway-waypoint-controller')],
      expected: ['waypoint-listener-invalid'],
    },
    { name: 'waypoint-for "services": denied', subject: gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'services' } }), expected: ['waypoint-for-invalid'] },
    { name: 'waypoint-for "service": allowed', subject: gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'service' } }), expected: [] },
    { name: 'waypoint-for "" : denied', subject: gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': '' } }), expected: ['waypoint-for-invalid'] },
    { name: 'GatewayClass waypoint-for "pods": denied', subject: gatewayClass('team', 'istio.io/mesh-controller', { 'istio.io/waypoint-for': 'pods' }), expected: ['waypoint-for-invalid'] },
    { name: 'GatewayClass waypoint-for "workload": allowed', subject: gatewayClass('team', 'istio.io/mesh-controller', { 'istio.io/waypoint-for': 'workload' }), expected: [] },
    { name: 'waypoint named none: denied', subject: gateway('bookinfo', 'none'), expected: ['waypoint-name-reserved'] },
    { name: 'waypoint named none-ish: allowed', subject: gateway('bookinfo', 'none-ish'), expected: [] },
    { name: 'ingress Gateway named none: allowed', subject: gateway('bookinfo', 'none', { className: 'istio', listeners: [] }), expected: [] },
    {
      name: 'third-party waypoint named none: denied',
      subject: gateway('bookinfo', 'none', { className: 'kgateway-waypoint', listeners: [] }),
      cluster: [gatewayClass('kgateway-waypoint', 'kgateway.dev/kgateway', {}, { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' })],
      expected: ['waypoint-name-reserved'],
    },
    { name: 'UPDATE is checked too', subject: input(gateway('bookinfo', 'waypoint', { listeners: [] }), 'UPDATE'), expected: ['waypoint-listener-invalid'] },
    { name: 'CONNECT is not', subject: input(gateway('bookinfo', 'waypoint', { listeners: [] }), 'CONNECT'), expected: [] },
    {
      name: "Istio's own Gateway kind is not Gateway API: allowed",
      subject: { ...gateway('bookinfo', 'none', { listeners: [] }), apiVersion: 'networking.istio.io/v1' },
      expected: [],
    },
  ])('$name', ({ subject, cluster = [], expected }) => {
    expect(rulesFor(subject, cluster)).toEqual(expected);
  });

  it('shows the listener to add and where', () => {
    const [f] = validateWaypoints(input(gateway('bookinfo', 'waypoint', { listeners: [{ name: 'mesh', port: 80, protocol: 'HTTP' }] })), {
      snapshot: new ClusterStore(),
      policy,
    });
    expect(f).toMatchObject({ rule: 'waypoint-listener-invalid', severity: 'error', path: 'spec.listeners[0]' });
    expect(f.message).toContain('{name: mesh, port: 15008, protocol: HBONE}');
  });
});

describe('bindings with istio.io/use-waypoint', () => {
  it.each<Case>([
    // waypoint-missing
    { name: 'Service names a missing waypoint: denied', subject: service('bookinfo', 'reviews', use('waypiont')), cluster: [bookinfo, waypoint], expected: ['waypoint-missing'] },
    { name: 'Service names an existing waypoint: allowed', subject: service('bookinfo', 'reviews', use('waypoint')), cluster: [bookinfo, waypoint], expected: [] },
    { name: 'use-waypoint none: allowed', subject: service('bookinfo', 'reviews', use('none')), cluster: [bookinfo], expected: [] },
    { name: 'empty use-waypoint: denied', subject: service('bookinfo', 'reviews', use('')), cluster: [bookinfo], expected: ['waypoint-missing'] },
    { name: 'Pod names a missing waypoint: denied', subject: pod('bookinfo', 'p', use('wp')), cluster: [bookinfo], expected: ['waypoint-missing'] },
    { name: 'ServiceEntry names a missing waypoint: denied', subject: serviceEntry('bookinfo', 'httpbin', use('wp')), cluster: [bookinfo], expected: ['waypoint-missing'] },
    {
      name: 'waypoint in the namespace the label names: allowed',
      subject: service('bookinfo', 'reviews', use('egress', 'istio-egress')),
      cluster: [bookinfo, namespace('istio-egress'), gateway('istio-egress', 'egress', { listeners: [crossNs('All')] })],
      expected: [],
    },
    {
      name: 'waypoint only in the object namespace while the label names another: denied',
      subject: service('bookinfo', 'reviews', use('waypoint', 'istio-egress')),
      cluster: [bookinfo, waypoint],
      expected: ['waypoint-missing'],
    },
    { name: 'existing Namespace names a missing waypoint in itself: denied', subject: namespace('bookinfo', use('waypoint')), cluster: [bookinfo], expected: ['waypoint-missing'] },
    { name: 'new Namespace names the waypoint it will contain: allowed', subject: namespace('bookinfo', use('waypoint')), cluster: [], expected: [] },
    { name: 'Namespace names its waypoint: allowed', subject: namespace('bookinfo', use('waypoint')), cluster: [bookinfo, waypoint], expected: [] },
    { name: 'Namespace DELETE is not a binding: allowed', subject: input(namespace('bookinfo', use('waypoint')), 'DELETE'), cluster: [bookinfo], expected: [] },
    // waypoint-not-a-waypoint
    {
      name: 'Service names the ingress Gateway: denied',
      subject: service('bookinfo', 'reviews', use('ingress')),
      cluster: [bookinfo, gateway('bookinfo', 'ingress', { className: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] })],
      expected: ['waypoint-not-a-waypoint'],
    },
    {
      name: 'Service names a gateway-sandwich Gateway (inbound binding): allowed',
      subject: service('bookinfo', 'reviews', use('ingress')),
      cluster: [
        bookinfo,
        gateway('bookinfo', 'ingress', {
          className: 'istio',
          annotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' },
          listeners: [{ name: 'proxy', port: 15088, protocol: 'istio.io/PROXY' }],
        }),
      ],
      expected: [],
    },
    {
      name: 'Service names a Gateway of an Istio-controlled custom class: denied',
      subject: service('bookinfo', 'reviews', use('edge')),
      cluster: [bookinfo, gatewayClass('edge', 'istio.io/gateway-controller'), gateway('bookinfo', 'edge', { className: 'edge', listeners: [] })],
      expected: ['waypoint-not-a-waypoint'],
    },
    {
      name: 'Service names an agentgateway ingress Gateway (class istio-agentgateway): denied',
      subject: service('bookinfo', 'reviews', use('agw')),
      cluster: [bookinfo, gateway('bookinfo', 'agw', { className: 'istio-agentgateway', listeners: [] })],
      expected: ['waypoint-not-a-waypoint'],
    },
    {
      name: 'Service names an agentgateway waypoint (class istio-agentgateway-waypoint): allowed',
      subject: service('bookinfo', 'reviews', use('agw')),
      cluster: [bookinfo, gateway('bookinfo', 'agw', { className: 'istio-agentgateway-waypoint' })],
      expected: [],
    },
    {
      name: 'Service names a Gateway of a class meshguard cannot see: allowed',
      subject: service('bookinfo', 'reviews', use('edge')),
      cluster: [bookinfo, gateway('bookinfo', 'edge', { className: 'vendor-waypoint', listeners: [] })],
      expected: [],
    },
    // waypoint-for-mismatch
    {
      name: 'Service binds to a workload waypoint: denied',
      subject: service('bookinfo', 'reviews', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })],
      expected: ['waypoint-for-mismatch'],
    },
    {
      name: 'Service binds to an all waypoint: allowed',
      subject: service('bookinfo', 'reviews', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'all' } })],
      expected: [],
    },
    { name: 'Pod binds to a default (service) waypoint: denied', subject: pod('bookinfo', 'p', use('waypoint')), cluster: [bookinfo, gateway('bookinfo', 'waypoint')], expected: ['waypoint-for-mismatch'] },
    {
      name: 'Pod binds to a workload waypoint: allowed',
      subject: pod('bookinfo', 'p', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })],
      expected: [],
    },
    {
      name: "Pod: the class's workload label applies when the Gateway has none: allowed",
      subject: pod('bookinfo', 'p', use('waypoint')),
      cluster: [bookinfo, gatewayClass('istio-waypoint', 'istio.io/mesh-controller', { 'istio.io/waypoint-for': 'workload' }), gateway('bookinfo', 'waypoint')],
      expected: [],
    },
    {
      name: "Pod: the Gateway's service label wins over the class's workload: denied",
      subject: pod('bookinfo', 'p', use('waypoint')),
      cluster: [bookinfo, gatewayClass('istio-waypoint', 'istio.io/mesh-controller', { 'istio.io/waypoint-for': 'workload' }), waypoint],
      expected: ['waypoint-for-mismatch'],
    },
    {
      name: 'ServiceEntry binds to a workload waypoint: denied',
      subject: serviceEntry('bookinfo', 'httpbin', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })],
      expected: ['waypoint-for-mismatch'],
    },
    { name: 'ServiceEntry binds to a service waypoint: allowed', subject: serviceEntry('bookinfo', 'httpbin', use('waypoint')), cluster: [bookinfo, waypoint], expected: [] },
    {
      name: 'Namespace binds to a none waypoint: denied',
      subject: namespace('bookinfo', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'none' } })],
      expected: ['waypoint-for-mismatch'],
    },
    {
      name: 'Namespace binds to a workload waypoint: allowed',
      subject: namespace('bookinfo', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })],
      expected: [],
    },
    {
      name: 'Service binds to a waypoint with an invalid waypoint-for: denied',
      subject: service('bookinfo', 'reviews', use('waypoint')),
      cluster: [bookinfo, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'services' } })],
      expected: ['waypoint-for-mismatch'],
    },
    // waypoint-cross-namespace-denied
    ...crossNamespaceCases(),
  ])('$name', ({ subject, cluster = [], expected }) => {
    expect(rulesFor(subject, cluster)).toEqual(expected);
  });

  it('is disabled when the cluster does not serve Gateways', () => {
    const subject = service('bookinfo', 'reviews', use('waypiont'));
    expect(rulesFor(subject, [bookinfo])).toEqual(['waypoint-missing']);
    expect(rulesFor(subject, [bookinfo], (s) => s.setServed('Gateway', false))).toEqual([]);
  });

  it('names the label, the namespace looked in and the waypoints there', () => {
    const [f] = validateWaypoints(input(service('bookinfo', 'reviews', use('waypiont'))), { snapshot: new ClusterStore([bookinfo, waypoint]), policy });
    expect(f.path).toBe('metadata.labels["istio.io/use-waypoint"]');
    expect(f.message).toMatch(/no Gateway "waypiont" in namespace "bookinfo".*Waypoints in "bookinfo": waypoint\./);
  });

  it('follows the policy: a rule set to warning warns, off is silent', () => {
    const subject = input(service('bookinfo', 'reviews', use('waypiont')));
    const snapshot = new ClusterStore([bookinfo, waypoint]);
    const warn = validateWaypoints(subject, { snapshot, policy: { ...policy, rules: { 'waypoint-missing': 'warning' } } });
    expect(warn.map((f) => f.severity)).toEqual(['warning']);
    expect(validateWaypoints(subject, { snapshot, policy: { ...policy, rules: { 'waypoint-missing': 'off' } } })).toEqual([]);
  });
});

function crossNamespaceCases(): Case[] {
  const team = namespace('team-a', { team: 'a', env: 'prod' });
  const egressNs = namespace('istio-egress');
  const egress = (...listeners: unknown[]) => gateway('istio-egress', 'egress', { labels: { 'istio.io/waypoint-for': 'all' }, listeners });
  const svc = service('team-a', 'api', use('egress', 'istio-egress'));
  const bind = (name: string, listener: unknown, expected: string[], subject: KubeObject = svc): Case => ({
    name,
    subject,
    cluster: [team, egressNs, egress(listener)],
    expected,
  });
  const denied = ['waypoint-cross-namespace-denied'];
  return [
    bind('cross-namespace with the default Same: denied', MESH, denied),
    bind('cross-namespace with from All: allowed', crossNs('All'), []),
    bind('cross-namespace with from Same: denied', crossNs('Same'), denied),
    bind('Selector matchLabels not matching: denied', crossNs('Selector', { matchLabels: { team: 'b' } }), denied),
    bind('Selector matchLabels matching: allowed', crossNs('Selector', { matchLabels: { team: 'a' } }), []),
    bind('Selector on the implicit metadata.name label: allowed', crossNs('Selector', { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } }), []),
    bind('Selector on another name: denied', crossNs('Selector', { matchLabels: { 'kubernetes.io/metadata.name': 'team-b' } }), denied),
    bind('Selector In not matching: denied', crossNs('Selector', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }), denied),
    bind('Selector In matching: allowed', crossNs('Selector', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }] }), []),
    bind('Selector NotIn excluding: denied', crossNs('Selector', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }), denied),
    bind('Selector NotIn on an absent key: allowed', crossNs('Selector', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] }), []),
    bind('Selector Exists on an absent key: denied', crossNs('Selector', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }), denied),
    bind('Selector Exists on a present key: allowed', crossNs('Selector', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }), []),
    bind('Selector DoesNotExist on a present key: denied', crossNs('Selector', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }), denied),
    bind('Selector DoesNotExist on an absent key: allowed', crossNs('Selector', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }), []),
    bind('Selector with an unknown operator: denied', crossNs('Selector', { matchExpressions: [{ key: 'team', operator: 'Equals', values: ['a'] }] }), denied),
    bind('Selector missing (selects nothing): denied', crossNs('Selector'), denied),
    bind('Selector empty (selects everything): allowed', crossNs('Selector', {}), []),
    bind('Namespace binding judged by its own new labels: denied', crossNs('Selector', { matchLabels: { team: 'a' } }), denied, namespace('team-a', { team: 'b', ...use('egress', 'istio-egress') })),
    bind('Namespace binding judged by its own new labels: allowed', crossNs('Selector', { matchLabels: { team: 'a' } }), [], namespace('team-a', { team: 'a', ...use('egress', 'istio-egress') })),
    bind('Pod cross-namespace with the default Same: denied', MESH, denied, pod('team-a', 'p', use('egress', 'istio-egress'))),
    bind('same namespace named explicitly is not cross-namespace: allowed', MESH, [], service('istio-egress', 'api', use('egress', 'istio-egress'))),
    {
      name: 'unknown using namespace with a Selector: allowed (cannot judge)',
      subject: service('team-z', 'api', use('egress', 'istio-egress')),
      cluster: [egressNs, egress(crossNs('Selector', { matchLabels: { team: 'a' } }))],
      expected: [],
    },
    {
      name: 'third-party waypoint: the inbound-binding listener decides: allowed',
      subject: svc,
      cluster: [
        team,
        egressNs,
        gatewayClass('kgateway-waypoint', 'kgateway.dev/kgateway', {}, { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' }),
        gateway('istio-egress', 'egress', {
          className: 'kgateway-waypoint',
          labels: { 'istio.io/waypoint-for': 'all' },
          listeners: [{ name: 'proxy', port: 15088, protocol: 'istio.io/PROXY', allowedRoutes: { namespaces: { from: 'All' } } }],
        }),
      ],
      expected: [],
    },
    {
      name: 'third-party waypoint: the inbound-binding listener decides: denied',
      subject: svc,
      cluster: [
        team,
        egressNs,
        gatewayClass('kgateway-waypoint', 'kgateway.dev/kgateway', {}, { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' }),
        gateway('istio-egress', 'egress', {
          className: 'kgateway-waypoint',
          labels: { 'istio.io/waypoint-for': 'all' },
          listeners: [{ name: 'proxy', port: 15088, protocol: 'istio.io/PROXY' }, crossNs('All')],
        }),
      ],
      expected: denied,
    },
  ];
}

describe('deleting a waypoint (waypoint-in-use)', () => {
  const del = (gw: KubeObject) => input(gw, 'DELETE');
  const referrers = Array.from({ length: 12 }, (_, i) => service('bookinfo', `svc-${String(i).padStart(2, '0')}`, use('waypoint')));

  it.each<Case>([
    { name: 'a Service still binds: denied', subject: del(waypoint), cluster: [bookinfo, waypoint, service('bookinfo', 'reviews', use('waypoint'))], expected: ['waypoint-in-use'] },
    { name: 'nothing binds: allowed', subject: del(waypoint), cluster: [bookinfo, waypoint, service('bookinfo', 'reviews', use('none'))], expected: [] },
    { name: 'the Namespace still binds: denied', subject: del(waypoint), cluster: [namespace('bookinfo', use('waypoint')), waypoint], expected: ['waypoint-in-use'] },
    {
      name: 'a ServiceEntry in another namespace still binds: denied',
      subject: del(waypoint),
      cluster: [bookinfo, waypoint, serviceEntry('team-a', 'httpbin', use('waypoint', 'bookinfo'))],
      expected: ['waypoint-in-use'],
    },
    {
      name: 'namespace terminating (deletionTimestamp): allowed',
      subject: del(waypoint),
      cluster: [namespace('bookinfo', {}, { metadata: { name: 'bookinfo', deletionTimestamp: '2026-01-01T00:00:00Z' } }), waypoint, service('bookinfo', 'reviews', use('waypoint'))],
      expected: [],
    },
    {
      name: 'namespace terminating (status.phase): allowed',
      subject: del(waypoint),
      cluster: [namespace('bookinfo', {}, { status: { phase: 'Terminating' } }), waypoint, service('bookinfo', 'reviews', use('waypoint'))],
      expected: [],
    },
    {
      name: 'without oldObject the request names it: denied',
      subject: { operation: 'DELETE', group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway', namespace: 'bookinfo', name: 'waypoint' },
      cluster: [bookinfo, waypoint, service('bookinfo', 'reviews', use('waypoint'))],
      expected: ['waypoint-in-use'],
    },
    {
      name: 'an ingress Gateway that Services wrongly name: allowed',
      subject: del(gateway('bookinfo', 'ingress', { className: 'istio' })),
      cluster: [bookinfo, service('bookinfo', 'reviews', use('ingress'))],
      expected: [],
    },
    { name: 'deleting a Service is no concern: allowed', subject: del(service('bookinfo', 'reviews', use('waypoint'))), cluster: [bookinfo, waypoint], expected: [] },
  ])('$name', ({ subject, cluster = [], expected }) => {
    expect(rulesFor(subject, cluster)).toEqual(expected);
  });

  it('lists the first 10 referrers and counts the rest', () => {
    const [f] = validateWaypoints(del(waypoint), { snapshot: new ClusterStore([bookinfo, waypoint, ...referrers]), policy });
    expect(f.path).toBe('metadata.name');
    expect(f.message).toContain('by 12 objects: Service bookinfo/svc-00, ');
    expect(f.message).toContain('Service bookinfo/svc-09 and 2 more.');
    expect(f.message).not.toContain('svc-10');
  });
});

describe('which Gateways are waypoints: one definition everywhere', () => {
  it('lists a waypoint of a custom mesh-controller class among the waypoints of its namespace', () => {
    const store = new ClusterStore([bookinfo, gatewayClass('team-waypoint', 'istio.io/mesh-controller'), gateway('bookinfo', 'team-wp', { className: 'team-waypoint' })]);
    const [f] = validateWaypoints(input(service('bookinfo', 'reviews', use('waypiont'))), { snapshot: store, policy });
    expect(f.rule).toBe('waypoint-missing');
    expect(f.message).toContain('Waypoints in "bookinfo": team-wp.');
  });
});

// Waypoint canaries (1.31): getUseWaypointCanary, getCanaryWeight, resolveCanaryWaypoint and
// buildWeightedWaypoints in pilot/pkg/serviceregistry/ambient/waypoints.go.
describe('waypoint canaries', () => {
  const canary = (name: string, ns?: string): Labels => ({ 'istio.io/use-waypoint-canary': name, ...(ns ? { 'istio.io/use-waypoint-canary-namespace': ns } : {}) });
  const withWeight = (obj: KubeObject, weight: string): KubeObject => ({ ...obj, metadata: { ...obj.metadata, annotations: { 'istio.io/use-waypoint-canary-weight': weight } } });
  const v2 = gateway('bookinfo', 'waypoint-v2', { labels: { 'istio.io/waypoint-for': 'service' } });
  const cluster = [bookinfo, waypoint, v2];
  it.each<Case>([
    { name: 'a canary next to the primary: allowed', subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') }), cluster, expected: [] },
    { name: 'a canary that does not exist: denied', subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v3') }), cluster, expected: ['waypoint-missing'] },
    {
      name: 'a canary that is an ingress gateway: denied',
      subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('ingress') }),
      cluster: [...cluster, gateway('bookinfo', 'ingress', { className: 'istio', listeners: [] })],
      expected: ['waypoint-not-a-waypoint'],
    },
    {
      name: 'a canary for workload traffic only: denied',
      subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('wl') }),
      cluster: [...cluster, gateway('bookinfo', 'wl', { labels: { 'istio.io/waypoint-for': 'workload' } })],
      expected: ['waypoint-for-mismatch'],
    },
    {
      name: 'a canary in another namespace that admits only its own: denied',
      subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('shared', 'infra') }),
      cluster: [...cluster, namespace('infra'), gateway('infra', 'shared')],
      expected: ['waypoint-cross-namespace-denied'],
    },
    {
      name: 'a canary in another namespace that admits all: allowed',
      subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('shared', 'infra') }),
      cluster: [...cluster, namespace('infra'), gateway('infra', 'shared', { listeners: [crossNs('All')] })],
      expected: [],
    },
    { name: 'the canary equals the primary: denied', subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint') }), cluster, expected: ['waypoint-canary-invalid'] },
    { name: 'a weight of 101: denied', subject: withWeight(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') }), '101'), cluster, expected: ['waypoint-canary-invalid'] },
    { name: 'a weight of 12.5: denied', subject: withWeight(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') }), '12.5'), cluster, expected: ['waypoint-canary-invalid'] },
    { name: 'a weight of 100: allowed', subject: withWeight(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') }), '100'), cluster, expected: [] },
    { name: 'a weight of +0 (strconv.Atoi reads it): allowed', subject: withWeight(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') }), '+0'), cluster, expected: [] },
    { name: 'a canary without any primary: denied', subject: service('bookinfo', 'reviews', canary('waypoint-v2')), cluster, expected: ['waypoint-canary-invalid'] },
    {
      name: "a Service's canary beside its namespace's primary: allowed",
      subject: service('bookinfo', 'reviews', canary('waypoint-v2')),
      cluster: [namespace('bookinfo', use('waypoint')), waypoint, v2],
      expected: [],
    },
    { name: 'a Namespace canary that does not exist: denied', subject: namespace('bookinfo', { ...use('waypoint'), ...canary('nope') }), cluster, expected: ['waypoint-missing'] },
    { name: 'a ServiceEntry canary that equals the primary: denied', subject: serviceEntry('bookinfo', 'api', { ...use('waypoint'), ...canary('waypoint') }), cluster, expected: ['waypoint-canary-invalid'] },
    { name: 'canary "none": no canary, allowed', subject: service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('none') }), cluster, expected: [] },
  ])('$name', ({ subject, cluster: c = [], expected }) => {
    expect(rulesFor(subject, c)).toEqual(expected);
  });

  it('names the canary label in the finding', () => {
    const store = new ClusterStore(cluster);
    const [f] = validateWaypoints(input(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v3') })), { snapshot: store, policy });
    expect(f).toMatchObject({ rule: 'waypoint-missing', path: 'metadata.labels["istio.io/use-waypoint-canary"]' });
    expect(f.message).toMatch(/^\[waypoint-missing\] istio\.io\/use-waypoint-canary="waypoint-v3" names no existing Gateway/);
  });

  it('is not checked before 1.31, where canaries do not exist', () => {
    const store = new ClusterStore(cluster);
    const old = withIstioVersion(policy, '1.30');
    expect(validateWaypoints(input(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint') })), { snapshot: store, policy: old })).toEqual([]);
    expect(validateWaypoints(input(service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v3') })), { snapshot: store, policy: old })).toEqual([]);
  });

  it('counts canaries in waypoint-in-use', () => {
    const store = new ClusterStore([...cluster, service('bookinfo', 'reviews', { ...use('waypoint'), ...canary('waypoint-v2') })]);
    const [f] = validateWaypoints(input(v2, 'DELETE'), { snapshot: store, policy });
    expect(f.rule).toBe('waypoint-in-use');
    expect(f.message).toContain('1 object: Service bookinfo/reviews (as its canary)');
  });
});

// An UPDATE that takes the waypoint away from what uses it is refused like a DELETE.
describe('changing a waypoint that is in use (waypoint-in-use on UPDATE)', () => {
  const update = (before: KubeObject, after: KubeObject): ValidationInput => ({ ...input(after, 'UPDATE'), oldObject: before });
  const users = [bookinfo, waypoint, service('bookinfo', 'reviews', use('waypoint'))];
  it.each<Case>([
    { name: 'class changed to an ingress class: denied', subject: update(waypoint, gateway('bookinfo', 'waypoint', { className: 'istio' })), cluster: users, expected: ['waypoint-in-use'] },
    { name: 'class changed to another waypoint class: allowed', subject: update(waypoint, gateway('bookinfo', 'waypoint', { className: 'istio-agentgateway-waypoint', labels: { 'istio.io/waypoint-for': 'service' } })), cluster: users, expected: [] },
    { name: 'waypoint-for service -> workload while a Service uses it: denied', subject: update(waypoint, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })), cluster: users, expected: ['waypoint-in-use'] },
    { name: 'waypoint-for service -> all: allowed', subject: update(waypoint, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'all' } })), cluster: users, expected: [] },
    {
      name: 'waypoint-for service -> workload while only the Namespace uses it: allowed',
      subject: update(waypoint, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })),
      cluster: [namespace('bookinfo', use('waypoint')), waypoint],
      expected: [],
    },
    { name: 'class changed while nothing uses it: allowed', subject: update(waypoint, gateway('bookinfo', 'waypoint', { className: 'istio', listeners: [] })), cluster: [bookinfo, waypoint], expected: [] },
  ])('$name', ({ subject, cluster = [], expected }) => {
    expect(rulesFor(subject, cluster)).toEqual(expected);
  });

  it('names the referrers that would break and the field', () => {
    const store = new ClusterStore(users);
    const [f] = validateWaypoints(update(waypoint, gateway('bookinfo', 'waypoint', { labels: { 'istio.io/waypoint-for': 'workload' } })), { snapshot: store, policy });
    expect(f).toMatchObject({ rule: 'waypoint-in-use', path: 'metadata.labels["istio.io/waypoint-for"]' });
    expect(f.message).toContain('serve "workload" instead of "service" traffic (istio.io/waypoint-for), which 1 object: Service bookinfo/reviews no longer bind to');
  });
});

// A GatewayClass change judged for each Gateway of the class (waypoint-in-use.ts,
// gatewayClassChangeInUse): DeploymentController.Reconcile skips a Gateway of an unknown or
// deleted non-built-in class; ClassController.reconcileClass recreates a deleted built-in class
// without its labels; a missing class means waypoint-for "service" (gatewayToWaypointTransform).
describe('deleting or changing the GatewayClass of a waypoint in use (waypoint-in-use)', () => {
  const MESH_CONTROLLER = 'istio.io/mesh-controller';
  const teamClass = gatewayClass('team-waypoint', MESH_CONTROLLER);
  const teamWp = gateway('bookinfo', 'team-wp', { className: 'team-waypoint' });
  const reviews = service('bookinfo', 'reviews', use('team-wp'));
  const users = [bookinfo, teamClass, teamWp, reviews];
  const classInput = (operation: ValidationInput['operation'], before: KubeObject, after?: KubeObject): ValidationInput => ({
    ...input(after ?? before, operation),
    ...(operation === 'UPDATE' ? { oldObject: before } : {}),
  });
  const allClass = gatewayClass('all-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'all' });
  const builtinWithFor = gatewayClass('istio-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'workload' });
  it.each<Case>([
    { name: 'DELETE of a custom waypoint class whose waypoint a Service uses: denied', subject: classInput('DELETE', teamClass), cluster: users, expected: ['waypoint-in-use'] },
    { name: 'DELETE of that class when nothing uses its waypoint: allowed', subject: classInput('DELETE', teamClass), cluster: [bookinfo, teamClass, teamWp, service('bookinfo', 'reviews', use('none'))], expected: [] },
    {
      name: 'DELETE without oldObject, the class read from the cluster: denied',
      subject: { operation: 'DELETE', group: 'gateway.networking.k8s.io', version: 'v1', kind: 'GatewayClass', name: 'team-waypoint' },
      cluster: users,
      expected: ['waypoint-in-use'],
    },
    {
      name: 'DELETE while the waypoint\'s namespace is terminating: allowed',
      subject: classInput('DELETE', teamClass),
      cluster: [namespace('bookinfo', {}, { status: { phase: 'Terminating' } }), teamClass, teamWp, reviews],
      expected: [],
    },
    { name: 'DELETE of an ingress class whose Gateway Services wrongly name: allowed', subject: classInput('DELETE', gatewayClass('team-ingress', 'istio.io/gateway-controller')), cluster: [bookinfo, gatewayClass('team-ingress', 'istio.io/gateway-controller'), gateway('bookinfo', 'team-wp', { className: 'team-ingress' }), reviews], expected: [] },
    { name: 'DELETE of the built-in istio-waypoint class (istiod recreates it): allowed', subject: classInput('DELETE', gatewayClass('istio-waypoint', MESH_CONTROLLER)), cluster: [bookinfo, gatewayClass('istio-waypoint', MESH_CONTROLLER), waypoint, service('bookinfo', 'reviews', use('waypoint'))], expected: [] },
    {
      name: 'DELETE of istio-waypoint labelled waypoint-for=workload: its waypoint falls back to service, which the Service binds to: allowed',
      subject: classInput('DELETE', builtinWithFor),
      cluster: [bookinfo, builtinWithFor, waypoint, service('bookinfo', 'reviews', use('waypoint'))],
      expected: [],
    },
    {
      name: 'DELETE of istio-waypoint labelled waypoint-for=all: service is what the Service binds to: allowed',
      subject: classInput('DELETE', gatewayClass('istio-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'all' })),
      cluster: [bookinfo, gatewayClass('istio-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'all' }), waypoint, service('bookinfo', 'reviews', use('waypoint'))],
      expected: [],
    },
    { name: 'UPDATE of controllerName to a third-party controller: denied', subject: classInput('UPDATE', teamClass, gatewayClass('team-waypoint', 'example.com/gateway')), cluster: users, expected: ['waypoint-in-use'] },
    { name: 'UPDATE of controllerName to Istio\'s ingress controller: denied', subject: classInput('UPDATE', teamClass, gatewayClass('team-waypoint', 'istio.io/gateway-controller')), cluster: users, expected: ['waypoint-in-use'] },
    { name: 'UPDATE to the agentgateway waypoint controller: allowed', subject: classInput('UPDATE', teamClass, gatewayClass('team-waypoint', 'istio.io/agentgateway-waypoint-controller')), cluster: users, expected: [] },
    { name: 'UPDATE of the description only: allowed', subject: classInput('UPDATE', teamClass, { ...teamClass, spec: { controllerName: MESH_CONTROLLER, description: 'team' } }), cluster: users, expected: [] },
    {
      name: 'UPDATE of the class label waypoint-for all -> workload while a Service uses its waypoint: denied',
      subject: classInput('UPDATE', allClass, gatewayClass('all-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'workload' })),
      cluster: [bookinfo, allClass, gateway('bookinfo', 'team-wp', { className: 'all-waypoint' }), reviews],
      expected: ['waypoint-in-use'],
    },
    {
      name: 'UPDATE of the class label waypoint-for all -> workload while only the Namespace uses its waypoint: allowed',
      subject: classInput('UPDATE', allClass, gatewayClass('all-waypoint', MESH_CONTROLLER, { 'istio.io/waypoint-for': 'workload' })),
      cluster: [namespace('bookinfo', use('team-wp')), allClass, gateway('bookinfo', 'team-wp', { className: 'all-waypoint' })],
      expected: [],
    },
  ])('$name', ({ subject, cluster = [], expected }) => {
    expect(rulesFor(subject, cluster)).toEqual(expected);
  });

  it('names each waypoint, its referrers and why, at metadata.name on DELETE', () => {
    const other = gateway('shop', 'team-wp', { className: 'team-waypoint' });
    const store = new ClusterStore([...users, namespace('shop', use('team-wp')), other]);
    const [f] = validateWaypoints(classInput('DELETE', teamClass), { snapshot: store, policy });
    expect(f).toMatchObject({ rule: 'waypoint-in-use', path: 'metadata.name' });
    expect(f.message).toContain('deleting GatewayClass team-waypoint takes away waypoints that are in use: ');
    expect(f.message).toContain('waypoint bookinfo/team-wp, used by 1 object: Service bookinfo/reviews: its class would no longer exist (istiod recreates only its built-in classes)');
    expect(f.message).toContain('waypoint shop/team-wp, used by 1 object: Namespace shop: ');
  });

  it('names the new controller at spec.controllerName on UPDATE', () => {
    const [f] = validateWaypoints(classInput('UPDATE', teamClass, gatewayClass('team-waypoint', 'example.com/gateway')), { snapshot: new ClusterStore(users), policy });
    expect(f).toMatchObject({ rule: 'waypoint-in-use', path: 'spec.controllerName' });
    expect(f.message).toContain(`its class's controller would be "example.com/gateway", not one of Istio's waypoint controllers`);
  });

  it('follows Gateways that move between classes (the store\'s class index)', () => {
    const store = new ClusterStore(users);
    store.upsert(gateway('bookinfo', 'team-wp', { className: 'istio-waypoint' }));
    expect(validateWaypoints(classInput('DELETE', teamClass), { snapshot: store, policy })).toEqual([]);
    store.upsert(teamWp);
    expect(validateWaypoints(classInput('DELETE', teamClass), { snapshot: store, policy }).map((f) => f.rule)).toEqual(['waypoint-in-use']);
    store.remove('Gateway', 'bookinfo', 'team-wp');
    expect(validateWaypoints(classInput('DELETE', teamClass), { snapshot: store, policy })).toEqual([]);
  });
});
