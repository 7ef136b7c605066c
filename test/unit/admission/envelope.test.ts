import { describe, expect, it } from 'vitest';
import { labelsOf } from '../../../src/kube.js';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview } from '../../helpers/objects.js';

const json = { 'content-type': 'application/json' };

// Modelled on istio/istio pkg/webhooks/validation/server/server_test.go TestServe's bad-request table.
describe('bad input never crashes, hangs or returns 500', () => {
  const { app } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
  const big = JSON.stringify({ ...podReview('shop', pod()), padding: 'x'.repeat(6 * 1024 * 1024 + 1) });
  it.each([
    ['empty body', json, '', 400, /empty/i],
    ['wrong content type', { 'content-type': 'text/plain' }, '{}', 415, /content-type/i],
    ['no content type', {}, '{"a":1}', 415, /content-type/i],
    ['invalid JSON', json, '{"apiVersion":', 400, /json/i],
    ['body over 6 MiB', json, big, 413, /too large/i],
    ['a JSON array', json, '[1,2]', 400, /AdmissionReview/],
    ['a JSON string', json, '"hello"', 400, /AdmissionReview/],
    ['the wrong kind', json, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: { uid: 'x' } }), 400, /kind must be "AdmissionReview"/],
    ['an unknown apiVersion', json, JSON.stringify({ apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: { uid: 'x' } }), 400, /apiVersion must be one of/],
    ['no request', json, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 400, /no request/],
    ['no request.uid', json, JSON.stringify({ ...podReview('shop', pod()), request: { ...podReview('shop', pod()).request, uid: undefined } }), 400, /request\.uid is missing/],
    ['request.kind missing', json, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 'CREATE' } }), 400, /request\.kind/],
    ['a bogus operation', json, JSON.stringify({ ...podReview('shop', pod()), request: { ...podReview('shop', pod()).request, operation: 'PATCH' } }), 400, /operation/],
    ['object is not an object', json, JSON.stringify({ ...podReview('shop', pod()), request: { ...podReview('shop', pod()).request, object: [1] } }), 400, /request\.object/],
  ])('%s -> %s', async (_name, headers, payload, status, message) => {
    for (const url of ['/mutate', '/validate']) {
      const res = await app.inject({ method: 'POST', url, headers, payload });
      expect(res.statusCode).toBe(status);
      expect(res.json().message).toMatch(message);
    }
  });

  // Issue 7 item 5: each of these was a 500 (a stack overflow in JSON.stringify or a template string,
  // or a kind group that reached Object.prototype through a plain-object lookup).
  const deepList = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  // The review with request fields set to raw JSON text (JSON.stringify would overflow building them).
  const withRequest = (fields: Record<string, string>) => {
    const request: Record<string, unknown> = { ...podReview('shop', pod()).request };
    for (const field of Object.keys(fields)) request[field] = `@${field}@`;
    let text = JSON.stringify({ ...podReview('shop', pod()), request });
    for (const [field, raw] of Object.entries(fields)) text = text.replace(`"@${field}@"`, raw);
    return text;
  };
  it.each([
    ['a deeply nested review kind', () => `{"kind":${deepList(100_000)}}`, /kind must be "AdmissionReview", got \(a list\)/],
    ['a deeply nested review apiVersion', () => `{"kind":"AdmissionReview","apiVersion":${deepObject(100_000)}}`, /apiVersion must be one of .*, got \(an object\)/],
    ['a deeply nested request.namespace', () => withRequest({ namespace: deepList(100_000) }), /request\.namespace must be a string, got \(a list\)/],
    ['a deeply nested request.name', () => withRequest({ name: deepObject(50_000) }), /request\.name must be a string, got \(an object\)/],
    ['a request.namespace object', () => withRequest({ namespace: '{"a":"b"}' }), /request\.namespace must be a string/],
    ['a deeply nested request.kind.kind', () => withRequest({ kind: `{"group":"","version":"v1","kind":${deepList(100_000)}}` }), /request\.kind must have group, version and kind/],
    ['a non-string request.kind.group', () => withRequest({ kind: `{"group":${deepList(100_000)},"version":"v1","kind":"Pod"}` }), /request\.kind\.group must be a string/],
    ['a non-string request.userInfo.username', () => withRequest({ userInfo: '{"username":["alice"]}' }), /request\.userInfo\.username must be a string/],
    ['a non-boolean request.dryRun', () => withRequest({ dryRun: '"yes"' }), /request\.dryRun must be true or false/],
    ['a request.requestKind list', () => withRequest({ requestKind: '[1]' }), /request\.requestKind must be an object/],
    ['a 1 MB request.uid', () => withRequest({ uid: `"${'u'.repeat(1_000_000)}"` }), /request\.uid must be at most 256 characters/],
  ])('%s is a 400 that names the field', async (_name, payload, message) => {
    for (const url of ['/mutate', '/validate']) {
      const res = await app.inject({ method: 'POST', url, headers: json, payload: payload() });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(message);
    }
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('a kind group %j is looked up as its own key only', async (group) => {
    const body = { ...podReview('shop', pod()), request: { ...podReview('shop', pod()).request, kind: { group, version: 'v1', kind: 'includes' } } };
    for (const url of ['/mutate', '/validate']) {
      const res = await app.inject({ method: 'POST', url, headers: json, payload: JSON.stringify(body) });
      expect(res.statusCode).toBe(200);
      expect(res.json().response).toMatchObject({ allowed: true });
    }
  });

  it('GET on an admission path is 404, not a crash', async () => {
    expect((await app.inject({ method: 'GET', url: '/mutate' })).statusCode).toBe(404);
  });
});

describe('the AdmissionReview contract', () => {
  const { app } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
  const post = (url: string, body: unknown) => app.inject({ method: 'POST', url, headers: json, payload: JSON.stringify(body) });

  it.each(['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'])('echoes %s and request.uid', async (apiVersion) => {
    const body = podReview('shop', pod(), {});
    const res = await post('/mutate', { ...body, apiVersion });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ apiVersion, kind: 'AdmissionReview', response: { uid: body.request.uid, allowed: true, patchType: 'JSONPatch' } });
  });

  it('a denial uses response.status with code and message', async () => {
    const res = await post('/mutate', podReview('shop', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } })));
    const { response } = res.json();
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(403);
    expect(response.status.message).toMatch(/^\[dataplane-mode-invalid\] /);
    expect(response.patch).toBeUndefined();
  });

  it('healthz and readyz', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    const notReady = testApp([], undefined, false).app;
    const res = await notReady.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json().pending).toEqual(['cache Namespace not synced']);
    await notReady.close();
  });
});

// Issue 7 item 6: a `__proto__` key is data. JSON.parse makes it an own property; nothing may copy it
// into a prototype. Each test also proves Object.prototype is untouched.
describe('a __proto__ or constructor key anywhere is data, not a 400 and not pollution', () => {
  const { app } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
  const post = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: json, payload });
  const untouched = () => {
    expect(Object.getOwnPropertyNames(Object.prototype).filter((k) => !BUILTIN_PROTO_KEYS.includes(k))).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  };
  const BUILTIN_PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype);
  const poison = '{"polluted":true,"kind":"AdmissionReview"}';

  it('inside a valid pod review, at the top, in the request and in the labels: decided and patched', async () => {
    const review = podReview('shop', pod({ labels: { app: 'web' } }));
    const text = JSON.stringify(review)
      .replace('{"apiVersion"', `{"__proto__":${poison},"apiVersion"`)
      .replace('"uid":', `"constructor":{"prototype":${poison}},"__proto__":${poison},"uid":`)
      .replace('"labels":{', '"labels":{"__proto__":"x","constructor":"y",');
    const res = await post('/mutate', text);
    expect(res.statusCode).toBe(200);
    const { response } = res.json();
    expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch', auditAnnotations: { mode: 'ambient' } });
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString());
    expect(ops).toContainEqual({ op: 'add', path: '/metadata/labels/istio.io~1dataplane-mode', value: 'ambient' });
    untouched();
  });

  it('a VirtualService header named __proto__ is validated like any header', async () => {
    const vs = (regex: string) =>
      JSON.stringify({
        ...podReview('shop', pod()),
        request: {
          ...podReview('shop', pod()).request,
          kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
          object: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'shop' }, spec: { hosts: ['web'], http: [{ match: [{ headers: { HEADER: { regex } } }], route: [{ destination: { host: 'web' } }] }] } },
        },
      }).replace('"HEADER"', '"__proto__"');
    const bad = (await post('/validate', vs('(?=lookahead)'))).json().response;
    expect(bad.allowed).toBe(false);
    expect(bad.status.message).toMatch(/^\[regex-invalid\] spec\.http\[0\]\.match\[0\]\.headers\.__proto__\.regex "\(\?=lookahead\)" is not valid RE2/);
    const good = await post('/validate', vs('v[0-9]+'));
    expect(good.statusCode).toBe(200);
    expect(good.json().response).toMatchObject({ allowed: true });
    untouched();
  });

  it('a label map cleaned of a non-string value keeps its __proto__ key as an own key', async () => {
    const labels = labelsOf(JSON.parse('{"metadata":{"labels":{"__proto__":"ambient","n":1}}}'));
    expect(Object.entries(labels)).toEqual([['__proto__', 'ambient']]);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    const text = JSON.stringify(podReview('shop', pod())).replace('"generateName":', '"labels":{"__proto__":"ambient","n":1},"generateName":');
    const res = await post('/mutate', text);
    expect(res.statusCode).toBe(200);
    expect(res.json().response.allowed).toBe(true);
    untouched();
  });
});
