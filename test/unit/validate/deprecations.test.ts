import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile, parsePolicy, PolicyError } from '../../../src/policy/load.js';
import type { Policy } from '../../../src/policy/types.js';
import { findPaths, validateDeprecations } from '../../../src/validate/deprecations.js';
import type { ValidationInput } from '../../../src/validate/index.js';

const policy = loadPolicyFile();

function input(object: KubeObject, operation: ValidationInput['operation'] = 'CREATE'): ValidationInput {
  const slash = object.apiVersion!.indexOf('/');
  return {
    operation,
    group: slash < 0 ? '' : object.apiVersion!.slice(0, slash),
    version: object.apiVersion!.slice(slash + 1),
    kind: object.kind!,
    namespace: 'shop',
    name: object.metadata?.name,
    object,
  };
}

const validate = (object: KubeObject, operation: ValidationInput['operation'] = 'CREATE', p: Policy = policy) =>
  validateDeprecations(input(object, operation), { policy: p });

const obj = (apiVersion: string, kind: string, spec: unknown = {}, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name: 'x', namespace: 'shop', annotations },
  spec,
});
const vs = (http: unknown[]) => obj('networking.istio.io/v1', 'VirtualService', { hosts: ['r'], http });
const dr = (spec: unknown) => obj('networking.istio.io/v1', 'DestinationRule', { host: 'r', ...(spec as object) });
const dest = { destination: { host: 'r' } };

// Section 6 of the semantics notes, row by row: a denied object and its minimally different fixed twin.
const ROWS: Array<[string, KubeObject, KubeObject, string, string]> = [
  ['VirtualService mirrorPercent (istiod validateHTTPRoute warns)',
    vs([{ route: [dest], mirror: { host: 'm' }, mirrorPercent: 5 }]),
    vs([{ route: [dest], mirror: { host: 'm' }, mirrorPercentage: { value: 5 } }]),
    'deprecated-field', 'spec.http[0].mirrorPercent'],
  ['VirtualService mirror_percent',
    vs([{ route: [dest] }, { route: [dest], mirror: { host: 'm' }, mirror_percent: 5 }]),
    vs([{ route: [dest] }, { route: [dest], mirror: { host: 'm' }, mirror_percentage: { value: 5 } }]),
    'deprecated-field', 'spec.http[1].mirror_percent'],
  ['VirtualService corsPolicy.allowOrigin',
    vs([{ route: [dest], corsPolicy: { allowOrigin: ['https://a'] } }]),
    vs([{ route: [dest], corsPolicy: { allowOrigins: [{ exact: 'https://a' }] } }]),
    'deprecated-field', 'spec.http[0].corsPolicy.allowOrigin'],
  ['VirtualService fault.delay.percent (analyze IST0002)',
    vs([{ route: [dest], fault: { delay: { percent: 10, fixedDelay: '1s' } } }]),
    vs([{ route: [dest], fault: { delay: { percentage: { value: 10 }, fixedDelay: '1s' } } }]),
    'deprecated-field', 'spec.http[0].fault.delay.percent'],
  ['VirtualService mirror together with mirrors (istiod rejects)',
    vs([{ route: [dest], mirror: { host: 'm' }, mirrors: [{ destination: { host: 'n' } }] }]),
    vs([{ route: [dest], mirrors: [{ destination: { host: 'm' } }, { destination: { host: 'n' } }] }]),
    'deprecated-field', 'spec.http[0].mirror'],
  ['DestinationRule loadBalancer.simple LEAST_CONN',
    dr({ trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } }),
    dr({ trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }),
    'deprecated-field', 'spec.trafficPolicy.loadBalancer.simple'],
  ['DestinationRule LEAST_CONN per port',
    dr({ trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'LEAST_CONN' } }] } }),
    dr({ trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'ROUND_ROBIN' } }] } }),
    'deprecated-field', 'spec.trafficPolicy.portLevelSettings[0].loadBalancer.simple'],
  ['DestinationRule LEAST_CONN in a subset',
    dr({ subsets: [{ name: 'v1' }, { name: 'v2', trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } }] }),
    dr({ subsets: [{ name: 'v1' }, { name: 'v2', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }] }),
    'deprecated-field', 'spec.subsets[1].trafficPolicy.loadBalancer.simple'],
  ['DestinationRule LEAST_CONN per port of a subset',
    dr({ subsets: [{ name: 'v1', trafficPolicy: { portLevelSettings: [{ loadBalancer: { simple: 'LEAST_CONN' } }] } }] }),
    dr({ subsets: [{ name: 'v1', trafficPolicy: { portLevelSettings: [{ loadBalancer: { simple: 'LEAST_REQUEST' } }] } }] }),
    'deprecated-field', 'spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.simple'],
  ['DestinationRule consistentHash.minimumRingSize',
    dr({ trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'u', minimumRingSize: 1024 } } } }),
    dr({ trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'u', ringHash: { minimumRingSize: 1024 } } } } }),
    'deprecated-field', 'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize'],
  ['DestinationRule outlierDetection.consecutiveErrors',
    dr({ trafficPolicy: { outlierDetection: { consecutiveErrors: 5 } } }),
    dr({ trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 } } }),
    'deprecated-field', 'spec.trafficPolicy.outlierDetection.consecutiveErrors'],
  ['DestinationRule loadBalancer.warmupDurationSecs (1.24+)',
    dr({ subsets: [{ name: 'v1', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', warmupDurationSecs: '60s' } } }] }),
    dr({ subsets: [{ name: 'v1', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', warmup: { duration: '60s' } } } }] }),
    'deprecated-field', 'spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs'],
  ['Istio Gateway servers[].port.targetPort',
    obj('networking.istio.io/v1', 'Gateway', { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }, hosts: ['*'] }] }),
    obj('networking.istio.io/v1', 'Gateway', { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
    'deprecated-field', 'spec.servers[0].port.targetPort'],
  ['Sidecar ingress[].port.targetPort',
    obj('networking.istio.io/v1', 'Sidecar', { ingress: [{ port: { number: 80, protocol: 'HTTP', name: 'h', targetPort: 8080 } }] }),
    obj('networking.istio.io/v1', 'Sidecar', { ingress: [{ port: { number: 80, protocol: 'HTTP', name: 'h' } }] }),
    'deprecated-field', 'spec.ingress[0].port.targetPort'],
  ['Sidecar egress[].port.targetPort',
    obj('networking.istio.io/v1', 'Sidecar', { egress: [{ port: { number: 80, protocol: 'HTTP', name: 'h', targetPort: 8080 }, hosts: ['./*'] }] }),
    obj('networking.istio.io/v1', 'Sidecar', { egress: [{ port: { number: 80, protocol: 'HTTP', name: 'h' }, hosts: ['./*'] }] }),
    'deprecated-field', 'spec.egress[0].port.targetPort'],
  ['annotation istio.io/for-service-account on a waypoint Gateway (removed in 1.22)',
    obj('gateway.networking.k8s.io/v1', 'Gateway', { gatewayClassName: 'istio-waypoint' }, { 'istio.io/for-service-account': 'bookinfo-reviews' }),
    obj('gateway.networking.k8s.io/v1', 'Gateway', { gatewayClassName: 'istio-waypoint' }, { 'istio.io/other': 'bookinfo-reviews' }),
    'removed-annotation', 'metadata.annotations["istio.io/for-service-account"]'],
  ['annotation istio.io/for-service-account on a Service',
    obj('v1', 'Service', {}, { 'istio.io/for-service-account': 'reviews' }),
    obj('v1', 'Service', {}, {}),
    'removed-annotation', 'metadata.annotations["istio.io/for-service-account"]'],
  ['annotation istio.io/for-service-account on a Namespace',
    obj('v1', 'Namespace', undefined, { 'istio.io/for-service-account': 'reviews' }),
    obj('v1', 'Namespace', undefined, {}),
    'removed-annotation', 'metadata.annotations["istio.io/for-service-account"]'],
  ['networking.istio.io/v1alpha3', obj('networking.istio.io/v1alpha3', 'VirtualService'), obj('networking.istio.io/v1', 'VirtualService'), 'deprecated-api-version', 'apiVersion'],
  ['networking.istio.io/v1beta1', obj('networking.istio.io/v1beta1', 'DestinationRule'), obj('networking.istio.io/v1', 'DestinationRule'), 'deprecated-api-version', 'apiVersion'],
  ['security.istio.io/v1beta1', obj('security.istio.io/v1beta1', 'AuthorizationPolicy'), obj('security.istio.io/v1', 'AuthorizationPolicy'), 'deprecated-api-version', 'apiVersion'],
  ['telemetry.istio.io/v1alpha1', obj('telemetry.istio.io/v1alpha1', 'Telemetry'), obj('telemetry.istio.io/v1', 'Telemetry'), 'deprecated-api-version', 'apiVersion'],
  ['gateway.networking.k8s.io/v1beta1 Gateway', obj('gateway.networking.k8s.io/v1beta1', 'Gateway'), obj('gateway.networking.k8s.io/v1', 'Gateway'), 'deprecated-api-version', 'apiVersion'],
  ['gateway.networking.k8s.io/v1beta1 GatewayClass', obj('gateway.networking.k8s.io/v1beta1', 'GatewayClass'), obj('gateway.networking.k8s.io/v1', 'GatewayClass'), 'deprecated-api-version', 'apiVersion'],
];

describe('validateDeprecations with the shipped catalog', () => {
  it.each(ROWS)('%s', (_name, denied, allowed, rule, path) => {
    const findings = validate(denied);
    expect(findings).toEqual([expect.objectContaining({ rule, path })]);
    expect(findings[0].message).toMatch(new RegExp(`^\\[${rule}\\] `));
    expect(validate(allowed)).toEqual([]);
  });

  it('words a finding with the path, what is wrong and the fix', () => {
    const [f] = validate(vs([{ route: [dest], mirrorPercent: 5 }]));
    expect(f.message).toBe('[deprecated-field] spec.http[0].mirrorPercent is deprecated, and istiod warns about it; use mirrorPercentage instead.');
    const [lb] = validate(dr({ trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } }));
    expect(lb.message).toBe('[deprecated-field] spec.trafficPolicy.loadBalancer.simple is LEAST_CONN, which is deprecated; use LEAST_REQUEST instead.');
    const [api] = validate(obj('security.istio.io/v1beta1', 'AuthorizationPolicy'));
    expect(api.message).toContain('security.istio.io/v1beta1 is superseded by v1');
    expect(api.message).toContain('set apiVersion: security.istio.io/v1.');
  });

  it('takes severities from the rule defaults: deprecated-api-version warns, the rest deny', () => {
    expect(validate(obj('networking.istio.io/v1beta1', 'VirtualService'))[0].severity).toBe('warning');
    expect(validate(vs([{ route: [dest], mirrorPercent: 5 }]))[0].severity).toBe('error');
  });

  it('reports old apiVersion and deprecated fields of the same object separately', () => {
    const old = { ...vs([{ route: [dest], mirrorPercent: 5 }, { route: [dest], mirror_percent: 1 }]), apiVersion: 'networking.istio.io/v1alpha3' };
    expect(validate(old, 'CREATE').map((f) => f.path)).toEqual(['spec.http[0].mirrorPercent', 'spec.http[1].mirror_percent', 'apiVersion']);
  });

  it.each([
    // Not catalogued, to avoid double reports: the pod mutation (deprecated-inject-annotation) and
    // authz-removed-when-key own these.
    ['the sidecar.istio.io/inject annotation on a Pod', obj('v1', 'Pod', {}, { 'sidecar.istio.io/inject': 'true' })],
    ['removed when keys on an AuthorizationPolicy', obj('security.istio.io/v1', 'AuthorizationPolicy', { rules: [{ when: [{ key: 'destination.name', values: ['a'] }] }] })],
    // Kinds without a v1 are not deprecated versions.
    ['EnvoyFilter v1alpha3', obj('networking.istio.io/v1alpha3', 'EnvoyFilter')],
    ['ProxyConfig v1beta1', obj('networking.istio.io/v1beta1', 'ProxyConfig')],
    ['a LEAST_CONN-looking value elsewhere', dr({ trafficPolicy: { loadBalancer: { localityLbSetting: { enabled: true } } }, exportTo: ['LEAST_CONN'] })],
    ['mirror without mirrors', vs([{ route: [dest], mirror: { host: 'm' }, mirrors: null }])],
    ['a null deprecated field', vs([{ route: [dest], mirrorPercent: null }])],
  ])('leaves alone %s', (_name, object) => {
    expect(validate(object)).toEqual([]);
  });

  it.each([
    ['UPDATE', 1],
    ['DELETE', 0],
    ['CONNECT', 0],
  ] as const)('on %s', (operation, count) => {
    expect(validate(obj('networking.istio.io/v1beta1', 'VirtualService'), operation)).toHaveLength(count);
  });

  it('lets an entry severity win and the policy turn a rule off', () => {
    const custom = { ...policy, rules: { ...policy.rules, 'deprecated-field': 'warning' as const, 'deprecated-api-version': 'off' as const } };
    const object = { ...vs([{ route: [dest], mirrorPercent: 5, mirror: { host: 'm' }, mirrors: [] }]), apiVersion: 'networking.istio.io/v1beta1' };
    expect(validate(object, 'CREATE', custom).map((f) => [f.path, f.severity])).toEqual([
      ['spec.http[0].mirrorPercent', 'warning'],
      // istiod rejects mirror with mirrors, so that entry says error whatever the rule setting.
      ['spec.http[0].mirror', 'error'],
    ]);
  });

  it.each([
    ['spec is a list', obj('networking.istio.io/v1', 'DestinationRule', [1, 2])],
    ['http holds junk', vs([null, 1, 'x', [], { mirror: 1, mirrors: 2 }])],
    ['subsets is an object', dr({ subsets: { trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } } })],
    ['annotations is a list', { apiVersion: 'v1', kind: 'Service', metadata: { annotations: ['istio.io/for-service-account'] } } as unknown as KubeObject],
    ['deep nesting', dr({ trafficPolicy: JSON.parse('{"a":'.repeat(5000) + '1' + '}'.repeat(5000)) })],
  ])('never throws: %s', (_name, object) => {
    expect(() => validate(object)).not.toThrow();
  });
});

describe('findPaths', () => {
  const doc = {
    spec: {
      http: [{ a: 1 }, { b: 2 }, { a: 3 }],
      headers: { 'x-user': { regex: 'u' }, plain: { regex: 'p' } },
    },
    metadata: { annotations: { 'istio.io/rev': 'canary' } },
  };

  it.each([
    ['spec.http[].a', [['spec.http[0].a', 1], ['spec.http[2].a', 3]]],
    ['spec.headers{}.regex', [['spec.headers["x-user"].regex', 'u'], ['spec.headers.plain.regex', 'p']]],
    ['metadata.annotations["istio.io/rev"]', [['metadata.annotations["istio.io/rev"]', 'canary']]],
    ['spec.http', [['spec.http', doc.spec.http]]],
    ['spec.missing[].a', []],
    ['spec.http.a', []],
    ['spec.headers[].regex', []],
  ])('%s', (path, expected) => {
    expect(findPaths(doc, path).map((m) => [m.path, m.value])).toEqual(expected);
  });

  it.each(['spec.http[x]', 'spec["open', 'spec{x'])('ends on a malformed path instead of looping: %s', (path) => {
    expect(() => findPaths(doc, path)).not.toThrow();
  });

  it('does not follow inherited properties', () => {
    expect(findPaths({ spec: {} }, 'spec.constructor')).toEqual([]);
  });
});

describe('the catalog schema', () => {
  const entry = (extra: string) => `clusterDefaultMode: ambient
deprecations:
  - rule: deprecated-field
    group: networking.istio.io
    kinds: [VirtualService]
    message: is deprecated
    replacement: x
    since: "1.22"
${extra}`;

  it.each([
    ['a path with a stray bracket', '    path: spec.http[.mirror'],
    ['a path with a space', '    path: spec.http[] .mirror'],
    ['an empty path list', '    path: []'],
    ['an object as equals', '    path: spec.a\n    equals: {x: 1}'],
    ['a dotted sibling name', '    path: spec.a\n    with: a.b'],
  ])('rejects %s at load time', (_name, extra) => {
    expect(() => parsePolicy(entry(extra))).toThrow(PolicyError);
  });

  it.each([
    ['one path', '    path: spec.http[].mirror'],
    ['several paths, map values and quoted keys', '    path:\n      - spec.a{}.b\n      - metadata.annotations["a.io/b"]'],
    ['equals and with', '    path: spec.a\n    equals: LEAST_CONN\n    with: b'],
  ])('accepts %s', (_name, extra) => {
    expect(() => parsePolicy(entry(extra))).not.toThrow();
  });
});

describe('validateDeprecations on arbitrary input', () => {
  it('never throws on any JSON as spec or metadata, for every catalogued kind', () => {
    const kinds = policy.deprecations.flatMap((e) => e.kinds.map((kind) => [e.group, kind] as const));
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.constantFrom('v1', 'v1beta1', 'v1alpha3'), fc.jsonValue(), fc.jsonValue(), ([group, kind], version, spec, metadata) => {
        const object = { apiVersion: group ? `${group}/${version}` : version, kind, metadata, spec } as KubeObject;
        expect(() => validate(object)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
