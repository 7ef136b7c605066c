import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import type { ValidationInput } from '../../../src/validate/index.js';
import { regexesToCompile, validateVirtualService } from '../../../src/validate/virtual-service.js';

const policy = loadPolicyFile();
const ctx = { snapshot: new ClusterStore(), policy };

const virtualService = (http: unknown, apiVersion = 'networking.istio.io/v1'): KubeObject => ({
  apiVersion,
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'shop' },
  spec: { hosts: ['reviews'], http },
});

function validate(object: KubeObject | undefined, operation: ValidationInput['operation'] = 'CREATE', version = 'v1') {
  return validateVirtualService(
    { operation, group: 'networking.istio.io', version, kind: 'VirtualService', namespace: 'shop', name: 'reviews', object },
    ctx,
  );
}

const route = [{ destination: { host: 'reviews' } }];
const withMatch = (match: Record<string, unknown>) => [{ match: [match], route }];

// Every regex field of section 5 (validateHTTPRouteMatchRequest and validateCORSPolicy/validateHTTPRewrite
// in pkg/config/validation), each with a bad pattern and its fixed twin.
const FIELDS: Array<[string, (re: string) => unknown, string]> = [
  ['uri', (re) => withMatch({ uri: { regex: re } }), 'spec.http[0].match[0].uri.regex'],
  ['scheme', (re) => withMatch({ scheme: { regex: re } }), 'spec.http[0].match[0].scheme.regex'],
  ['method', (re) => withMatch({ method: { regex: re } }), 'spec.http[0].match[0].method.regex'],
  ['authority', (re) => withMatch({ authority: { regex: re } }), 'spec.http[0].match[0].authority.regex'],
  ['headers', (re) => withMatch({ headers: { 'x-user': { regex: re } } }), 'spec.http[0].match[0].headers["x-user"].regex'],
  ['withoutHeaders', (re) => withMatch({ withoutHeaders: { debug: { regex: re } } }), 'spec.http[0].match[0].withoutHeaders.debug.regex'],
  ['queryParams', (re) => withMatch({ queryParams: { q: { regex: re } } }), 'spec.http[0].match[0].queryParams.q.regex'],
  ['corsPolicy.allowOrigins', (re) => [{ corsPolicy: { allowOrigins: [{ exact: 'a' }, { regex: re }] }, route }], 'spec.http[0].corsPolicy.allowOrigins[1].regex'],
  ['rewrite.uriRegexRewrite', (re) => [{ rewrite: { uriRegexRewrite: { match: re, rewrite: '/\\1' } }, route }], 'spec.http[0].rewrite.uriRegexRewrite.match'],
];

describe('validateVirtualService', () => {
  describe.each(FIELDS)('%s', (_field, build, path) => {
    it.each([
      ['regex-invalid', '(?!/admin)/.*', '/(api|web)/.*'],
      ['regex-too-long', `/${'a'.repeat(1024)}`, `/${'a'.repeat(1023)}`],
      ['regex-empty', '', '.+'],
    ])('%s is denied, and its fixed twin allowed', (rule, bad, good) => {
      const denied = validate(virtualService(build(bad)));
      expect(denied).toEqual([expect.objectContaining({ rule, path, severity: 'error' })]);
      expect(denied[0].message).toMatch(new RegExp(`^\\[${rule}\\] `));
      expect(denied[0].message).toContain(path);
      expect(validate(virtualService(build(good)))).toEqual([]);
    });
  });

  it('denies a regex Envoy in Istio would refuse for its program size, saying the limit and the fix', () => {
    const [f, ...rest] = validate(virtualService(withMatch({ uri: { regex: '(?i)[\\pL\\pM\\pN]{360}q1' } })));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'regex-budget-exceeded', path: 'spec.http[0].match[0].uri.regex', severity: 'error' });
    expect(f.message).toMatch(/^\[regex-budget-exceeded\] spec\.http\[0\]\.match\[0\]\.uri\.regex "\(\?i\)\[\\\\pL.*about 540010 RE2 instructions .* over 32768 .*repeat a smaller class/);
  });

  it('denies an object over the regex budget once, at spec.http, without compiling its patterns', () => {
    const http = Array.from({ length: 513 }, (_, i) => ({ match: [{ uri: { regex: `^/p${i}/(?=x)` } }], route }));
    const findings = validate(virtualService(http));
    expect(findings).toEqual([expect.objectContaining({ rule: 'regex-budget-exceeded', path: 'spec.http' })]);
    expect(findings[0].message).toContain('holds more than 512 regexes, and meshguard checks at most 512 in one object');
    expect(findings[0].message).toContain('split the routes over several VirtualServices');
    // 512 of them are within the budget: each is compiled and found invalid.
    expect(validate(virtualService(http.slice(1)))).toHaveLength(512);
  });

  it('takes compile results from the server when it has them', () => {
    const verdicts = new Map([['^/slow$', { kind: 'not-compiled' as const, reason: 'compiling them took longer than 1000 ms' }]]);
    const findings = validateVirtualService(
      { operation: 'CREATE', group: 'networking.istio.io', version: 'v1', kind: 'VirtualService', object: virtualService(withMatch({ uri: { regex: '^/slow$' } })) },
      { ...ctx, regexVerdicts: verdicts },
    );
    expect(findings).toEqual([expect.objectContaining({ rule: 'regex-budget-exceeded', path: 'spec.http[0].match[0].uri.regex' })]);
    expect(findings[0].message).toContain('could not be checked: compiling them took longer than 1000 ms');
  });

  it('says what RE2 objects to and how to fix it', () => {
    const [f] = validate(virtualService(withMatch({ uri: { regex: '(a)\\1' } })));
    expect(f.message).toContain('"(a)\\\\1" is not valid RE2 (RE2 says "invalid escape sequence: \\1")');
    expect(f.message).toContain('https://github.com/google/re2/wiki/Syntax');
  });

  // istiod skips `regex: "*"` only in withoutHeaders; in headers it goes through validateStringMatch
  // and is rejected like any invalid regex (pkg/config/validation/virtualservice.go,
  // validateHTTPRouteMatchRequest).
  it.each([
    ['headers (denied: istiod checks it as a regex)', withMatch({ headers: { 'x-user': { regex: '*' } } }), ['regex-invalid']],
    ['headers, its allowed twin ".*"', withMatch({ headers: { 'x-user': { regex: '.*' } } }), []],
    ['withoutHeaders (allowed: istiod skips it)', withMatch({ withoutHeaders: { 'x-user': { regex: '*' } } }), []],
    ['headers present as an empty StringMatch', withMatch({ headers: { 'x-user': {} } }), []],
    ['queryParams', withMatch({ queryParams: { q: { regex: '*' } } }), ['regex-invalid']],
    ['uri', withMatch({ uri: { regex: '*' } }), ['regex-invalid']],
  ])('"*" in %s', (_name, http, rules) => {
    expect(validate(virtualService(http)).map((f) => f.rule)).toEqual(rules);
  });

  it.each([
    ['sourceLabels', withMatch({ sourceLabels: { app: '(?=x)' } })],
    ['gateways', withMatch({ gateways: ['(?=x)'] })],
    ['exact', withMatch({ uri: { exact: '(?=x)' } })],
    ['prefix', withMatch({ uri: { prefix: '(?=x)' } })],
    ['headers exact', withMatch({ headers: { 'x-user': { exact: '(?=x)' } } })],
  ])('%s is not a regex', (_name, http) => {
    expect(validate(virtualService(http))).toEqual([]);
  });

  it('reports every bad regex, in every route and match, with its own path', () => {
    const http = [
      { match: [{ uri: { prefix: '/' } }, { uri: { regex: '(?=a)' } }], route },
      { match: [{ headers: { a: { regex: '' } } }], route },
    ];
    expect(validate(virtualService(http)).map((f) => [f.rule, f.path])).toEqual([
      ['regex-invalid', 'spec.http[0].match[1].uri.regex'],
      ['regex-empty', 'spec.http[1].match[0].headers.a.regex'],
    ]);
  });

  it.each(['v1', 'v1beta1', 'v1alpha3'])('checks apiVersion %s', (version) => {
    const vs = virtualService(withMatch({ uri: { regex: '(?=a)' } }), `networking.istio.io/${version}`);
    expect(validate(vs, 'CREATE', version)).toHaveLength(1);
  });

  it.each([
    ['UPDATE', 1],
    ['DELETE', 0],
    ['CONNECT', 0],
  ] as const)('on %s', (operation, count) => {
    expect(validate(virtualService(withMatch({ uri: { regex: '(?=a)' } })), operation)).toHaveLength(count);
  });

  it('ignores other kinds', () => {
    const input = { operation: 'CREATE', group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule', object: virtualService(withMatch({ uri: { regex: '(' } })) } as const;
    expect(validateVirtualService(input, ctx)).toEqual([]);
  });

  it('honours a rule turned off in the policy', () => {
    const off = { ...policy, rules: { ...policy.rules, 'regex-invalid': 'off' as const } };
    const object = virtualService(withMatch({ uri: { regex: '(' } }));
    expect(validateVirtualService({ operation: 'CREATE', group: 'networking.istio.io', version: 'v1', kind: 'VirtualService', object }, { ...ctx, policy: off })).toEqual([]);
  });

  it.each([
    ['no object', undefined],
    ['no spec', { kind: 'VirtualService' }],
    ['http is a string', virtualService('nope')],
    ['http holds null and numbers', virtualService([null, 3, { match: null }, { match: [null, 7, { uri: null }] }])],
    ['regex is a number', virtualService(withMatch({ uri: { regex: 42 } }))],
    ['headers is a list', virtualService(withMatch({ headers: [{ regex: '(' }] }))],
    ['rewrite match is an object', virtualService([{ rewrite: { uriRegexRewrite: { match: { regex: '(' } } }, route }])],
  ])('never throws: %s', (_name, object) => {
    expect(() => validate(object as KubeObject)).not.toThrow();
    expect(validate(object as KubeObject)).toEqual([]);
  });

  it('validates a VirtualService with 50 regexes quickly', () => {
    const http = Array.from({ length: 50 }, (_, i) => ({ match: [{ uri: { regex: `^/api/v${i}/(users|orders)/[0-9]+$` } }], route }));
    const started = performance.now();
    expect(validate(virtualService(http))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('validateVirtualService on arbitrary input', () => {
  const junk = fc.jsonValue({ maxDepth: 2 });
  const or = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, junk);
  const pattern = or(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('*', '(?=a)', '\\u0041', '[[:alpha:]]', '')));
  const stringMatch = or(fc.record({ regex: pattern, exact: junk }, { requiredKeys: [] }));
  const matchMap = or(fc.dictionary(fc.string({ maxLength: 5 }), stringMatch, { maxKeys: 3 }));
  const match = or(fc.record({ uri: stringMatch, method: stringMatch, headers: matchMap, withoutHeaders: matchMap, queryParams: matchMap }, { requiredKeys: [] }));
  const route = or(
    fc.record(
      {
        match: or(fc.array(match, { maxLength: 3 })),
        corsPolicy: or(fc.record({ allowOrigins: or(fc.array(stringMatch, { maxLength: 2 })) }, { requiredKeys: [] })),
        rewrite: or(fc.record({ uriRegexRewrite: or(fc.record({ match: pattern }, { requiredKeys: [] })) }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    ),
  );

  it('never throws, and reports only regex rules on string patterns', () => {
    fc.assert(
      fc.property(or(fc.array(route, { maxLength: 4 })), (http) => {
        for (const f of validate(virtualService(http))) {
          expect(['regex-invalid', 'regex-too-long', 'regex-empty', 'regex-budget-exceeded']).toContain(f.rule);
          expect(f.message.startsWith(`[${f.rule}] ${f.path}`)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('one regex plan per object (the compile step and the rule share it)', () => {
  it('each object gets its own plan, and the same object the same answers each time', () => {
    const input = (object: KubeObject) => ({ operation: 'CREATE' as const, group: 'networking.istio.io', kind: 'VirtualService', object });
    const bad = virtualService(withMatch({ uri: { regex: '(?=x)' } }));
    const good = virtualService(withMatch({ uri: { regex: '^/api/[a-z]+$' } }));
    const costly = virtualService(withMatch({ uri: { regex: '(?i)[\\pL\\pM\\pN]{360}' } }));
    expect(regexesToCompile(input(bad))).toEqual(['(?=x)']);
    expect(regexesToCompile(input(good))).toEqual(['^/api/[a-z]+$']);
    expect(regexesToCompile(input(costly))).toEqual([]);
    for (let i = 0; i < 2; i++) {
      expect(validate(bad).map((f) => f.rule)).toEqual(['regex-invalid']);
      expect(validate(good)).toEqual([]);
      expect(validate(costly).map((f) => f.rule)).toEqual(['regex-budget-exceeded']);
    }
    // An equal object that is another object is planned for itself.
    expect(validate(structuredClone(bad)).map((f) => f.rule)).toEqual(['regex-invalid']);
  });
});
