// The background audit's trims are honest: an object as the audit keeps it gets exactly the
// evaluation (findings, enforcement, running and decided mode, drift, owner) the full object gets,
// over every object in the repository's examples, hand-written pods for each field the pod trim
// keeps, and the admission fuzz generator's objects (hostile shapes included).
import { describe, expect, it } from 'vitest';
import { FUZZ_NAMESPACES, fuzzCase } from '../../../bench/fuzz-reviews.js';
import { evaluateObject } from '../../../src/cluster-audit/evaluate.js';
import { auditReadsSnapshot, auditTrim, catalogFields } from '../../../src/cluster-audit/trim.js';
import { readManifests } from '../../../src/cluster/from-files.js';
import { RESOURCES, snapshotKindOfResource, type Resource } from '../../../src/cluster/resources.js';
import { ClusterStore, trimForSnapshot } from '../../../src/cluster/snapshot.js';
import { isRecord, parseApiVersion, type KubeObject } from '../../../src/kube.js';
import type { Policy } from '../../../src/policy/types.js';
import { namespace, policy } from '../../helpers/objects.js';

const resourceOf = (o: KubeObject): Resource | undefined => {
  if (typeof o.apiVersion !== 'string') return undefined;
  const { group } = parseApiVersion(o.apiVersion);
  return RESOURCES.find((r) => r.kind === o.kind && r.group === group);
};

/** What the audit holds of an object: the snapshot's copy, or its own trim. */
function kept(o: KubeObject, r: Resource, p: Policy): KubeObject {
  const kind = snapshotKindOfResource(r);
  return auditReadsSnapshot(r, p) && kind ? trimForSnapshot(kind, o) : auditTrim(r, p)(o);
}

const examples = readManifests(['examples']).map((d) => d.object);
const store = new ClusterStore([...examples, ...Object.entries(FUZZ_NAMESPACES).map(([n, l]) => namespace(n, l))]);

const proxyPod = (extra: Partial<KubeObject>, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'p',
    namespace: 'sidecar',
    labels: { app: 'a', 'pod-template-hash': 'h1' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a-h1', controller: true }],
    managedFields: [{ manager: 'kubectl' }],
    ...extra.metadata,
  },
  spec: { containers: [{ name: 'app', image: 'app:1', env: [{ name: 'SECRET', value: 's' }] }], ...spec },
});

const handWritten: Array<[string, KubeObject]> = [
  ['a sidecar pod by its istio-proxy container', proxyPod({}, { containers: [{ name: 'app' }, { name: 'istio-proxy', image: 'proxyv2' }] })],
  ['a native-sidecar pod (istio-proxy in initContainers)', proxyPod({}, { initContainers: [{ name: 'istio-proxy', restartPolicy: 'Always' }] })],
  ['a sidecar pod by its status annotation', proxyPod({ metadata: { name: 'p', namespace: 'ambient', annotations: { 'sidecar.istio.io/status': '{}' } } })],
  ['a hostNetwork pod', proxyPod({ metadata: { name: 'h', namespace: 'ambient' } }, { hostNetwork: true })],
  ['a Job pod in a sidecar namespace', proxyPod({ metadata: { name: 'j', namespace: 'sidecar', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j', controller: true }] } })],
  ['a pod with no owner', proxyPod({ metadata: { name: 'solo', namespace: 'ambient', ownerReferences: undefined } })],
  ['a pod with a mode override', proxyPod({ metadata: { name: 'o', namespace: 'locked', annotations: { 'meshguard.io/mode': 'sidecar' } } })],
  ['a pod with a deprecated annotation', proxyPod({ metadata: { name: 'd', namespace: 'ambient', annotations: { 'sidecar.istio.io/statsCompression': 'gzip', 'sidecar.istio.io/inject': 'true' } } })],
  ['a pod meshguard labelled', proxyPod({ metadata: { name: 'm', namespace: 'ambient', labels: { 'istio.io/dataplane-mode': 'ambient' }, annotations: { 'meshguard.io/decision': 'ambient/namespace-default' } } })],
  ['an Istio Gateway with a deprecated targetPort', {
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g', namespace: 'ambient', managedFields: [{}] },
    spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }, hosts: ['*'] }] },
    status: { conditions: [] },
  }],
  ['a pod using a waypoint', proxyPod({ metadata: { name: 'w', namespace: 'ambient', labels: { 'istio.io/use-waypoint': 'missing' } } })],
];

const fuzzed: Array<[string, KubeObject]> = [];
for (let i = 0; i < 600; i++) {
  const { review } = fuzzCase(7, i);
  const request = isRecord(review.request) ? review.request : {};
  if (isRecord(request.object) && request.operation !== 'DELETE') fuzzed.push([`fuzz case 7/${i}`, request.object]);
}

const cases = [
  ...examples.map((o): [string, KubeObject] => [`examples ${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o]),
  ...handWritten,
  ...fuzzed,
].flatMap(([name, o]) => {
  const r = resourceOf(o);
  return r ? [{ name, o, r }] : [];
});

/** A policy whose catalog reads fields no trim keeps otherwise: a Pod's containers, a Service's ports. */
const widePolicy: Policy = {
  ...policy,
  deprecations: [
    ...policy.deprecations,
    { rule: 'deprecated-field', group: '', kinds: ['Pod'], versions: [], path: 'spec.containers[].stdin', message: 'is deprecated here', replacement: '', since: '1.22' },
    { rule: 'deprecated-field', group: '', kinds: ['Service'], versions: [], path: ['spec.ports[].appProtocol', 'spec["externalIPs"]'], message: 'is deprecated here', replacement: '', since: '1.22' },
    { rule: 'deprecated-field', group: 'security.istio.io', kinds: ['AuthorizationPolicy'], versions: [], path: 'status', message: 'is deprecated here', replacement: '', since: '1.22' },
  ],
};

describe('the audit trims keep every field a rule reads', () => {
  it('covers every audited kind', () => {
    expect(new Set(cases.map((c) => `${c.r.kind}.${c.r.group}`))).toEqual(new Set(RESOURCES.map((r) => `${r.kind}.${r.group}`)));
    expect(cases.length).toBeGreaterThan(300);
  });

  it.each([
    ['the default policy', policy],
    ['a catalog that reads pod, service and status fields', widePolicy],
  ])('%s: the kept object gets the full object\'s evaluation', (_, p) => {
    const differ: string[] = [];
    let findings = 0;
    for (const { name, o, r } of cases) {
      const full = evaluateObject(structuredClone(o), r, store, p);
      const trimmed = evaluateObject(kept(structuredClone(o), r, p), r, store, p);
      findings += full.findings.length + (full.pod?.drift ? 1 : 0);
      try {
        expect(trimmed).toEqual(full);
      } catch {
        differ.push(name);
      }
    }
    expect(differ).toEqual([]);
    expect(findings).toBeGreaterThan(50); // the corpus exercises the rules, not only clean objects
  });

  it('finds the wide catalog\'s findings through the trim', () => {
    const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'ambient' }, spec: { ports: [{ port: 80, appProtocol: 'http' }], externalIPs: ['1.2.3.4'] } };
    const pod = proxyPod({}, { containers: [{ name: 'app', stdin: true }] });
    for (const [o, kind] of [[svc, 'Service'], [pod, 'Pod']] as const) {
      const r = RESOURCES.find((x) => x.kind === kind && x.group === '')!;
      const rules = evaluateObject(kept(o, r, widePolicy), r, store, widePolicy).findings.filter((f) => f.rule === 'deprecated-field');
      expect(rules.length, kind).toBeGreaterThan(0);
    }
  });
});

describe('what the trims drop', () => {
  const podResource = RESOURCES.find((r) => r.kind === 'Pod')!;
  it('a pod keeps no containers but istio-proxy (by name), no env, no managedFields, no last-applied copy', () => {
    const trimmed = auditTrim(podResource, policy)(proxyPod({}, { containers: [{ name: 'app', env: [{ name: 'K', value: 'secret' }] }, { name: 'istio-proxy', image: 'x' }] }));
    expect(trimmed.spec).toEqual({ containers: [{ name: 'istio-proxy' }] });
    expect(trimmed.metadata).toEqual({
      name: 'p',
      namespace: 'sidecar',
      labels: { app: 'a', 'pod-template-hash': 'h1' },
      annotations: {},
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a-h1', controller: true }],
    });
  });

  it('an Istio object keeps its spec but not its status', () => {
    const ap = RESOURCES.find((r) => r.kind === 'AuthorizationPolicy')!;
    const o = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: 'n', managedFields: [{}] }, spec: { action: 'DENY' }, status: { conditions: [] } };
    expect(auditTrim(ap, policy)(o)).toEqual({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: 'n' }, spec: { action: 'DENY' } });
  });

  const policies = { default: policy, wide: widePolicy };
  it.each([
    ['Pod', '', 'default', []],
    ['Pod', '', 'wide', [['spec', 'containers']]],
    ['Service', '', 'wide', [['spec', 'ports'], ['spec', 'externalIPs']]],
    ['VirtualService', 'networking.istio.io', 'default', [['spec', 'http'], ['spec', 'http'], ['spec', 'http']]],
  ] as const)('catalogFields(%s.%s) under the %s policy', (kind, group, name, fields) => {
    const p = policies[name];
    const got = catalogFields(p, { kind, group }).filter(([a]) => a !== 'metadata');
    expect(got.slice(0, fields.length)).toEqual(fields);
    if (!fields.length) expect(got).toEqual([]);
  });

  it.each([
    ['Namespace', '', 'default', true],
    ['Service', '', 'default', true],
    ['Service', '', 'wide', false],
    ['Gateway', 'gateway.networking.k8s.io', 'default', true],
    ['ServiceEntry', 'networking.istio.io', 'default', true],
    ['Pod', '', 'default', false],
    ['Gateway', 'networking.istio.io', 'default', false],
  ] as const)('%s.%s under the %s policy is read from the snapshot: %s', (kind, group, name, expected) => {
    expect(auditReadsSnapshot(RESOURCES.find((r) => r.kind === kind && r.group === group)!, policies[name])).toBe(expected);
  });
});
