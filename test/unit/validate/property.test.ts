import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterStore, SNAPSHOT_GROUPS, SNAPSHOT_KINDS } from '../../../src/cluster/snapshot.js';
import { parseApiVersion, type KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import type { Policy, RuleSetting } from '../../../src/policy/types.js';
import { RULE_IDS } from '../../../src/rules.js';
import { VALIDATED_KINDS, VALIDATORS, validateObject, type ValidationInput } from '../../../src/validate/index.js';
import { podCheckKeys, podNeedsChecks } from '../../../src/validate/pod-checks.js';

// Whatever a user sends, the whole dispatch (every validator, including those added later) must
// return well-formed findings and never throw: a throw in a webhook is a 500, and with
// failurePolicy Fail that blocks the apply.

const policy = loadPolicyFile();

/** A value chosen from what the rules look for most of the time, anything else some of the time. */
const mostly = <T,>(...values: T[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: fc.jsonValue() });
const someString = (...values: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: fc.string() });

const LABEL_KEYS = [
  'istio.io/use-waypoint',
  'istio.io/use-waypoint-namespace',
  'istio.io/use-waypoint-canary',
  'istio.io/use-waypoint-canary-namespace',
  'istio.io/ingress-use-waypoint',
  'istio.io/waypoint-for',
  'istio.io/dataplane-mode',
  'istio-injection',
  'istio.io/rev',
  'sidecar.istio.io/inject',
  'meshguard.io/enforcement',
  'meshguard.io/default-mode',
  'kubernetes.io/metadata.name',
  'app',
  '__proto__',
  'constructor',
];
const ANNOTATION_KEYS = ['istio.io/dry-run', 'istio.io/use-waypoint-canary-weight', 'istio.io/for-service-account', 'istio.io/waypoint-for', 'sidecar.istio.io/inject', 'ambient.istio.io/waypoint-inbound-binding', 'meshguard.io/mode'];
const VALUES = ['waypoint', 'none', '', '101', '1', 'service', 'workload', 'all', 'services', 'ambient', 'sidecar', 'enabled', 'true', 'off', 'PROXY/15088', 'ns-a', 'ns-b'];

const stringMap = (keys: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(someString(...keys), someString(...VALUES), { maxKeys: 6 }) },
    { weight: 1, arbitrary: fc.jsonValue() },
  );

const metadata = fc.oneof(
  { weight: 6, arbitrary: fc.record(
    {
      name: someString('waypoint', 'none', 'reviews', 'ns-a', 'ns-b', 'istio-waypoint'),
      namespace: someString('ns-a', 'ns-b', 'default'),
      labels: stringMap(LABEL_KEYS),
      annotations: stringMap(ANNOTATION_KEYS),
      deletionTimestamp: fc.constant('2026-01-01T00:00:00Z'),
    },
    { requiredKeys: [] },
  ) },
  { weight: 1, arbitrary: fc.anything() },
);

const selector = fc.record(
  {
    matchLabels: stringMap(LABEL_KEYS),
    matchExpressions: fc.array(
      fc.record({ key: someString(...LABEL_KEYS), operator: mostly('In', 'NotIn', 'Exists', 'DoesNotExist', 'Equals'), values: mostly(['ns-a'], [], ['x', 'y']) }, { requiredKeys: [] }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

const listener = fc.record(
  {
    name: mostly('mesh', 'http', 'proxy'),
    port: mostly<number | string>(15008, 80, 15088, '15008'),
    protocol: mostly('HBONE', 'HTTP', 'istio.io/PROXY'),
    allowedRoutes: fc.record({ namespaces: fc.record({ from: mostly('All', 'Same', 'Selector', 'Other'), selector }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const gatewaySpec = fc.record(
  { gatewayClassName: mostly('istio-waypoint', 'istio', 'custom'), controllerName: mostly('istio.io/mesh-controller', 'istio.io/gateway-controller'), listeners: fc.array(listener, { maxLength: 3 }) },
  { requiredKeys: [] },
);

const stringMatch = fc.record({ regex: someString('', '(?i)a+', '(?!x)', '[[:alpha:]]+', 'a{2,}'), exact: fc.string(), prefix: fc.string() }, { requiredKeys: [] });
const virtualServiceSpec = fc.record(
  {
    hosts: fc.array(fc.string(), { maxLength: 2 }),
    http: fc.array(
      fc.record(
        {
          match: fc.array(fc.record({ uri: stringMatch, headers: fc.dictionary(fc.string(), stringMatch, { maxKeys: 2 }), withoutHeaders: fc.dictionary(fc.string(), stringMatch, { maxKeys: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }),
          mirrorPercent: fc.jsonValue(),
          mirror: fc.jsonValue(),
          mirrors: fc.jsonValue(),
          corsPolicy: fc.record({ allowOrigin: fc.jsonValue(), allowOrigins: fc.array(stringMatch, { maxLength: 2 }) }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

const targetRef = fc.record({ kind: mostly('Gateway', 'Service', 'ServiceEntry', 'GatewayClass', 'Deployment'), group: mostly('gateway.networking.k8s.io', '', 'core', 'networking.istio.io'), name: mostly('waypoint', 'reviews', ''), namespace: fc.jsonValue() }, { requiredKeys: [] });
const authorizationSpec = fc.record(
  {
    selector,
    targetRef,
    targetRefs: fc.array(targetRef, { maxLength: 3 }),
    action: mostly('ALLOW', 'DENY', 'CUSTOM', 'AUDIT'),
    rules: fc.array(
      fc.record(
        {
          from: fc.array(fc.record({ source: fc.dictionary(someString('principals', 'requestPrincipals', 'namespaces', 'remoteIpBlocks', 'notPrincipals', 'trustDomains', 'notTrustDomains'), fc.jsonValue(), { maxKeys: 3 }) }), { maxLength: 2 }),
          to: fc.array(fc.record({ operation: fc.dictionary(someString('ports', 'methods', 'paths', 'hosts', 'notMethods'), fc.jsonValue(), { maxKeys: 3 }) }), { maxLength: 2 }),
          when: fc.array(fc.record({ key: someString('source.ip', 'request.headers[x]', 'destination.name', 'destination.port', 'source.trustDomain'), values: fc.jsonValue() }, { requiredKeys: [] }), { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

const spec = fc.oneof(gatewaySpec, virtualServiceSpec, authorizationSpec, fc.jsonValue(), fc.anything());

const VALIDATED = Object.entries(VALIDATED_KINDS).flatMap(([group, kinds]) => kinds.map((kind) => ({ group, kind })));
const SNAPSHOT = SNAPSHOT_KINDS.map((kind) => ({ group: SNAPSHOT_GROUPS[kind], kind }));

const objectOf = (kinds: Array<{ group: string; kind: string }>) =>
  fc
    .record({
      gk: fc.constantFrom(...kinds),
      version: someString('v1', 'v1beta1', 'v1alpha3'),
      metadata,
      spec,
      status: fc.oneof(fc.constant({ phase: 'Terminating' }), fc.jsonValue()),
      // Now and then an apiVersion that is not even a string.
      oddApiVersion: fc.option(fc.jsonValue(), { freq: 10, nil: undefined }),
    })
    .map(({ gk, version, oddApiVersion, ...rest }): KubeObject => ({
      apiVersion: oddApiVersion ?? (gk.group ? `${gk.group}/${version}` : version),
      kind: gk.kind,
      ...rest,
    }) as KubeObject);

const policyArb: fc.Arbitrary<Policy> = fc
  .dictionary(fc.constantFrom(...RULE_IDS), fc.constantFrom<RuleSetting>('error', 'warning', 'off'), { maxKeys: 6 })
  .map((rules) => ({ ...policy, rules: { ...policy.rules, ...rules } }));

const inputArb = fc.record({
  operation: fc.constantFrom<ValidationInput['operation']>('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
  object: fc.option(objectOf(VALIDATED), { nil: undefined }),
  oldObject: fc.option(objectOf(VALIDATED), { nil: undefined }),
  namespace: fc.option(someString('ns-a', 'ns-b', 'default'), { nil: undefined }),
  name: fc.option(someString('waypoint', 'none', 'reviews'), { nil: undefined }),
  gk: fc.constantFrom(...VALIDATED),
  version: fc.constantFrom('v1', 'v1beta1', 'v1alpha3'),
});

describe('property: validateObject through the whole dispatch', () => {
  it('never throws and returns well-formed findings for arbitrary objects and clusters', () => {
    fc.assert(
      fc.property(inputArb, fc.array(objectOf(SNAPSHOT), { maxLength: 8 }), policyArb, fc.boolean(), (raw, cluster, pol, gatewaysServed) => {
        const { gk, object, ...rest } = raw;
        // Most inputs say what their object says, as kube-apiserver's would.
        const input: ValidationInput = { ...rest, ...gk, object };
        const snapshot = new ClusterStore(cluster);
        snapshot.setServed('Gateway', gatewaysServed);
        const findings = validateObject(input, snapshot, pol);
        for (const f of findings) {
          expect(RULE_IDS).toContain(f.rule);
          expect(['error', 'warning']).toContain(f.severity);
          expect(typeof f.path).toBe('string');
          expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
          expect(pol.rules[f.rule]).not.toBe('off');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('also when the input names exactly the kind of its object', () => {
    fc.assert(
      fc.property(objectOf(VALIDATED), fc.array(objectOf(SNAPSHOT), { maxLength: 8 }), (object, cluster) => {
        const { group, version } = parseApiVersion(object.apiVersion);
        const input: ValidationInput = { operation: 'CREATE', group, version, kind: object.kind!, object };
        for (const f of validateObject(input, new ClusterStore(cluster), policy)) expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('holds for waypoint bindings, where random Gateways, classes and namespaces meet', () => {
    const binders = fc.constantFrom(...VALIDATED.filter(({ kind }) => ['Namespace', 'Service', 'ServiceEntry', 'Pod'].includes(kind)));
    const named = (arb: fc.Arbitrary<KubeObject>, name: string, ns?: string) =>
      arb.map((o) => ({ ...o, metadata: { ...(o.metadata ?? {}), name, ...(ns && { namespace: ns }) } }));
    const gatewayApi = (kind: string) =>
      fc
        .record({ metadata, spec: fc.record({ gatewayClassName: mostly('istio-waypoint', 'istio', 'custom'), controllerName: mostly('istio.io/mesh-controller', 'istio.io/gateway-controller'), listeners: fc.array(listener, { maxLength: 3 }) }) })
        .map((o) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind, ...o }) as KubeObject);
    const namespace = (name: string) =>
      fc
        .record({ labels: stringMap(LABEL_KEYS), status: fc.option(fc.constant({ phase: 'Terminating' }), { freq: 6, nil: undefined }) })
        .map(({ labels, status }) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels }, ...(status && { status }) }) as KubeObject);
    const namespaces = fc.tuple(namespace('ns-a'), namespace('ns-b'));
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        binders,
        fc.record({ waypoint: fc.constantFrom('waypoint', 'waypoint', 'waypoint', 'none', ''), waypointNamespace: fc.option(fc.constantFrom('ns-b', 'ns-b', 'ns-a', ''), { freq: 5, nil: undefined }) }),
        named(gatewayApi('Gateway'), 'waypoint', 'ns-b'),
        named(gatewayApi('GatewayClass'), 'istio-waypoint'),
        namespaces,
        fc.constantFrom<ValidationInput['operation']>('CREATE', 'UPDATE', 'DELETE'),
        (gk, labels, gateway, gatewayClass, [nsA, nsB], operation) => {
          const binder: KubeObject = {
            apiVersion: gk.group ? `${gk.group}/v1` : 'v1',
            kind: gk.kind,
            metadata: {
              name: gk.kind === 'Namespace' ? 'ns-a' : 'app',
              namespace: 'ns-a',
              labels: { 'istio.io/use-waypoint': labels.waypoint, ...(labels.waypointNamespace !== undefined && { 'istio.io/use-waypoint-namespace': labels.waypointNamespace }) },
            },
          };
          const snapshot = new ClusterStore([nsA, nsB, gateway, gatewayClass, ...(gk.kind === 'Pod' ? [] : [binder])]);
          const input: ValidationInput =
            operation === 'DELETE'
              ? { operation, group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway', namespace: 'ns-b', name: 'waypoint', oldObject: gateway }
              : { operation, ...gk, version: 'v1', namespace: gk.kind === 'Namespace' ? undefined : 'ns-a', object: binder };
          for (const f of validateObject(input, snapshot, policy)) {
            expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
            seen.add(f.rule);
          }
        },
      ),
      { numRuns: 1500 },
    );
    // The scenarios reach every binding rule, so the property says something about each.
    expect([...seen].filter((rule) => rule.startsWith('waypoint-')).sort()).toEqual(
      expect.arrayContaining(['waypoint-cross-namespace-denied', 'waypoint-for-mismatch', 'waypoint-in-use', 'waypoint-missing', 'waypoint-not-a-waypoint']),
    );
  });
});

describe('property: a Pod CREATE without the keys of podCheckKeys is one no validator finds anything in', () => {
  it('so the chart may leave it out of pods.validate.meshguard.io (and validateObject short-circuits it)', () => {
    const pods = objectOf([{ group: '', kind: 'Pod' }]);
    let checked = 0;
    let found = 0;
    fc.assert(
      fc.property(pods, fc.array(objectOf(SNAPSHOT), { maxLength: 8 }), fc.boolean(), (pod, cluster, gatewaysServed) => {
        const snapshot = new ClusterStore(cluster);
        snapshot.setServed('Gateway', gatewaysServed);
        const input: ValidationInput = { operation: 'CREATE', group: '', version: 'v1', kind: 'Pod', namespace: 'ns-a', name: 'app', object: pod };
        const findings = VALIDATORS.flatMap((validate) => validate(input, { snapshot, policy }));
        if (podNeedsChecks(pod, policy)) {
          checked++;
          if (findings.length) found++;
        } else expect(findings).toEqual([]);
      }),
      { numRuns: 400 },
    );
    // Pods that carry the keys come up and do get findings: the property is not vacuous.
    expect(checked).toBeGreaterThan(40);
    expect(found).toBeGreaterThan(5);
  });

  it('reads the deprecation catalog: a label or annotation for Pods is a key, anything else sends every Pod', () => {
    const bundled = ['istio.io/for-service-account', 'sidecar.istio.io/statsCompression', 'sidecar.istio.io/statsInclusionPrefixes'];
    expect(podCheckKeys(policy)).toEqual({ labels: ['istio.io/use-waypoint'], annotations: bundled });
    const entry = { rule: 'removed-annotation', group: '', kinds: ['Pod'], versions: [], message: 'is gone', replacement: '', since: '1.31' };
    const withPaths = (...path: string[]): Policy => ({ ...policy, deprecations: [...policy.deprecations, { ...entry, path }] });
    expect(podCheckKeys(withPaths('metadata.labels["example.com/old"]', 'metadata.annotations.legacy'))).toEqual({
      labels: ['istio.io/use-waypoint', 'example.com/old'],
      annotations: [...bundled, 'legacy'],
    });
    for (const other of ['spec.hostNetwork', 'metadata.annotations{}', '']) {
      const custom = withPaths(other);
      expect(podCheckKeys(custom), other).toBeUndefined();
      expect(podNeedsChecks({ kind: 'Pod', metadata: { name: 'plain' } }, custom)).toBe(true);
    }
    // Entries for other kinds do not matter to Pods.
    expect(podCheckKeys({ ...policy, deprecations: [{ ...entry, kinds: ['Service'], path: 'spec.type' }] })).toEqual({ labels: ['istio.io/use-waypoint'], annotations: [] });
  });
});
