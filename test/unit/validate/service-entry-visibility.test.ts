import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { parsePolicy, PolicyError, withIstioVersion } from '../../../src/policy/load.js';
import type { Policy } from '../../../src/policy/types.js';
import type { ValidationInput } from '../../../src/validate/index.js';
import { serviceEntryVisibility } from '../../../src/validate/service-entry-visibility.js';
import { validateWaypoints } from '../../../src/validate/waypoint.js';

// Istio 1.31: pilot/pkg/model/serviceentry_visibility.go (CompileServiceEntryVisibility,
// VisibilityFor) resolves a ServiceEntry's visibility from MeshConfig serviceEntryVisibility and the
// labels of its namespace; pilot/pkg/serviceregistry/ambient/waypoints.go fetchWaypointForService
// refuses a waypoint in another namespace to a NAMESPACE-visible ServiceEntry
// (CrossNamespaceWaypointForbidden). exportTo plays no part.
type Labels = Record<string, string>;
const policyWith = (visibility: string) => parsePolicy(`clusterDefaultMode: ambient\n${visibility}`);
const plain = parsePolicy('clusterDefaultMode: ambient');
const namespaceDefault = policyWith('serviceEntryVisibility:\n  defaultVisibility: NAMESPACE');
const byLabel = policyWith(`serviceEntryVisibility:
  defaultVisibility: PUBLIC
  policies:
  - visibility: NAMESPACE
    matchingRules:
    - namespaceSelector: {matchLabels: {tenant: restricted}}`);

const namespace = (name: string, labels: Labels = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const MESH_ALL = { name: 'mesh', port: 15008, protocol: 'HBONE', allowedRoutes: { namespaces: { from: 'All' } } };
const gateway = (ns: string, name: string): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name, namespace: ns, labels: { 'istio.io/waypoint-for': 'service' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [MESH_ALL] },
});
const serviceEntry = (ns: string, labels: Labels, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'httpbin', namespace: ns, labels },
  spec: { hosts: ['httpbin.org'], ...spec },
});
const service = (ns: string, labels: Labels): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: ns, labels } });
const use = (name: string, ns?: string): Labels => ({ 'istio.io/use-waypoint': name, ...(ns ? { 'istio.io/use-waypoint-namespace': ns } : {}) });

function input(object: KubeObject): ValidationInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return { operation: 'CREATE', group, version, kind: object.kind!, name: object.metadata?.name, namespace: object.metadata?.namespace, object };
}

const egress = gateway('istio-egress', 'egress');
const local = gateway('team-a', 'waypoint');
const teamA = namespace('team-a');
const restricted = namespace('team-a', { tenant: 'restricted' });
const cluster = (ns: KubeObject = teamA) => [ns, namespace('istio-egress'), egress, local];

function findingsFor(subject: KubeObject, objects: KubeObject[], policy: Policy) {
  return validateWaypoints(input(subject), { snapshot: new ClusterStore(objects), policy });
}
const rulesFor = (subject: KubeObject, objects: KubeObject[], policy: Policy) => findingsFor(subject, objects, policy).map((f) => f.rule);

interface Case {
  name: string;
  subject: KubeObject;
  objects?: KubeObject[];
  policy: Policy;
  expected: string[];
}

describe('ServiceEntry visibility and waypoints (1.31 fetchWaypointForService, VisibilityFor)', () => {
  const denied = ['waypoint-cross-namespace-denied'];
  const crossNs = use('egress', 'istio-egress');
  it.each<Case>([
    { name: 'no serviceEntryVisibility in MeshConfig: PUBLIC, a cross-namespace waypoint that admits all: allowed', subject: serviceEntry('team-a', crossNs), policy: plain, expected: [] },
    { name: 'exportTo "." without serviceEntryVisibility does not restrict waypoints: allowed', subject: serviceEntry('team-a', crossNs, { exportTo: ['.'] }), policy: plain, expected: [] },
    { name: 'defaultVisibility NAMESPACE, waypoint in another namespace: denied', subject: serviceEntry('team-a', crossNs), policy: namespaceDefault, expected: denied },
    { name: 'defaultVisibility NAMESPACE, waypoint in its own namespace: allowed', subject: serviceEntry('team-a', use('waypoint')), policy: namespaceDefault, expected: [] },
    { name: 'defaultVisibility NAMESPACE does not govern Services (nil visibility for them): allowed', subject: service('team-a', crossNs), policy: namespaceDefault, expected: [] },
    { name: 'defaultVisibility NONE is not NAMESPACE (the entry is not configured at all): allowed', subject: serviceEntry('team-a', crossNs), policy: policyWith('serviceEntryVisibility: {defaultVisibility: NONE}'), expected: [] },
    { name: 'defaultVisibility VISIBILITY_UNSPECIFIED resolves to PUBLIC: allowed', subject: serviceEntry('team-a', crossNs), policy: policyWith('serviceEntryVisibility: {defaultVisibility: VISIBILITY_UNSPECIFIED}'), expected: [] },
    { name: 'a policy whose namespaceSelector matches the namespace labels: denied', subject: serviceEntry('team-a', crossNs), objects: cluster(restricted), policy: byLabel, expected: denied },
    { name: 'a policy whose namespaceSelector does not match: the default PUBLIC, allowed', subject: serviceEntry('team-a', crossNs), policy: byLabel, expected: [] },
    {
      name: 'the first matching policy wins (PUBLIC for team-a before a NAMESPACE catch-all): allowed',
      subject: serviceEntry('team-a', crossNs),
      policy: policyWith(`serviceEntryVisibility:
  policies:
  - visibility: PUBLIC
    matchingRules: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: team-a}}}]
  - visibility: NAMESPACE`),
      expected: [],
    },
    {
      name: 'a policy with no matching rules matches everything: denied',
      subject: serviceEntry('team-a', crossNs),
      policy: policyWith('serviceEntryVisibility:\n  policies:\n  - visibility: NAMESPACE'),
      expected: denied,
    },
    {
      name: 'a matching rule without namespaceSelector never matches (compileVisibilityRule): allowed',
      subject: serviceEntry('team-a', crossNs),
      policy: policyWith('serviceEntryVisibility:\n  policies:\n  - visibility: NAMESPACE\n    matchingRules: [{}]'),
      expected: [],
    },
    { name: 'inherited from its namespace\'s use-waypoint: denied', subject: serviceEntry('team-a', {}), objects: cluster(namespace('team-a', crossNs)), policy: namespaceDefault, expected: denied },
    { name: 'inherited, but the ServiceEntry opts out with use-waypoint none: allowed', subject: serviceEntry('team-a', use('none')), objects: cluster(namespace('team-a', crossNs)), policy: namespaceDefault, expected: [] },
    { name: 'inherited from its namespace, waypoint in the same namespace: allowed', subject: serviceEntry('team-a', {}), objects: cluster(namespace('team-a', use('waypoint'))), policy: namespaceDefault, expected: [] },
    {
      name: 'a canary in another namespace is not checked for visibility (resolveCanaryWaypoint): allowed',
      subject: serviceEntry('team-a', { ...use('waypoint'), 'istio.io/use-waypoint-canary': 'egress', 'istio.io/use-waypoint-canary-namespace': 'istio-egress' }),
      policy: namespaceDefault,
      expected: [],
    },
    { name: 'namespace unknown and a selector would decide: allowed (cannot judge)', subject: serviceEntry('team-a', crossNs), objects: [namespace('istio-egress'), egress], policy: byLabel, expected: [] },
    { name: 'namespace unknown and only the default decides: denied', subject: serviceEntry('team-a', crossNs), objects: [namespace('istio-egress'), egress], policy: namespaceDefault, expected: denied },
    { name: 'Istio 1.30 has no serviceEntryVisibility: allowed', subject: serviceEntry('team-a', crossNs), policy: withIstioVersion(namespaceDefault, '1.30'), expected: [] },
    { name: 'Istio 1.31, the first version with it: denied', subject: serviceEntry('team-a', crossNs), policy: withIstioVersion(namespaceDefault, '1.31'), expected: denied },
  ])('$name', ({ subject, objects, policy, expected }) => {
    expect(rulesFor(subject, objects ?? cluster(), policy)).toEqual(expected);
  });

  it('says why, where and how to fix', () => {
    const [own] = findingsFor(serviceEntry('team-a', crossNs), cluster(), namespaceDefault);
    expect(own.path).toBe('metadata.labels["istio.io/use-waypoint-namespace"]');
    expect(own.message).toMatch(/^\[waypoint-cross-namespace-denied\] ServiceEntries in namespace "team-a" have visibility NAMESPACE/);
    expect(own.message).toContain('waypoint istio-egress/egress in another namespace');
    expect(own.message).toContain('CrossNamespaceWaypointForbidden');
    expect(own.message).toContain('istioctl waypoint apply -n team-a');
    const [inherited] = findingsFor(serviceEntry('team-a', {}), cluster(namespace('team-a', crossNs)), namespaceDefault);
    expect(inherited.path).toBe('metadata.namespace');
    expect(inherited.message).toContain('from namespace "team-a"\'s istio.io/use-waypoint');
  });
});

describe('serviceEntryVisibility resolution (VisibilityFor)', () => {
  it('resolves in policy order, then the default', () => {
    const config = byLabel.serviceEntryVisibility;
    expect(serviceEntryVisibility(undefined, {})).toBe('Public');
    expect(serviceEntryVisibility(config, { tenant: 'restricted' })).toBe('Namespace');
    expect(serviceEntryVisibility(config, { tenant: 'other' })).toBe('Public');
    expect(serviceEntryVisibility(config, undefined)).toBeUndefined();
    expect(serviceEntryVisibility({ defaultVisibility: 'NONE' }, undefined)).toBe('None');
  });

  it('the policy file refuses selectors istiod would fail to compile (LabelSelectorAsSelector)', () => {
    const bad = (selector: string) => () => policyWith(`serviceEntryVisibility:\n  policies:\n  - visibility: NAMESPACE\n    matchingRules: [{namespaceSelector: ${selector}}]`);
    expect(bad('{matchExpressions: [{key: tenant, operator: Equals, values: [a]}]}')).toThrow(PolicyError);
    expect(bad('{matchExpressions: [{key: tenant, operator: In}]}')).toThrow(PolicyError);
    expect(bad('{matchExpressions: [{key: tenant, operator: Exists, values: [a]}]}')).toThrow(PolicyError);
    expect(bad('{matchExpressions: [{key: tenant, operator: In, values: [a]}]}')).not.toThrow();
    expect(() => policyWith('serviceEntryVisibility: {defaultVisibility: PRIVATE}')).toThrow(/serviceEntryVisibility\.defaultVisibility/);
  });
});
