import { describe, expect, it } from 'vitest';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview, review } from '../../helpers/objects.js';

// Issue 7 item 7: a client value reaches the audit line and kubectl's message bounded (a 1 MB key made
// a 2 MB line), with line separators escaped, and only strings are logged.
const MB = 'k'.repeat(1_000_000);
const json = { 'content-type': 'application/json' };

describe('client values in audit lines and messages are bounded and escaped', () => {
  const { app, lines, raw } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
  const post = async (url: string, body: unknown) => {
    const before = raw.length;
    const res = await app.inject({ method: 'POST', url, headers: json, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    expect(raw.length).toBe(before + 1);
    return { response: res.json().response, line: raw[raw.length - 1], record: lines[lines.length - 1], bytes: res.body.length };
  };
  const object = (group: string, kind: string, obj: Record<string, unknown>) =>
    review({ kind: { group, version: 'v1', kind }, namespace: 'shop', name: 'p', object: { apiVersion: `${group}/v1`, kind, metadata: { name: 'p', namespace: 'shop' }, ...obj } });

  it.each([
    ['a 1 MB when key', () => object('security.istio.io', 'AuthorizationPolicy', { spec: { rules: [{ when: [{ key: `request.headers[${MB}]`, values: ['v'] }] }] } }), '/validate'],
    ['a 1 MB removed when key', () => object('security.istio.io', 'AuthorizationPolicy', { spec: { rules: [{ when: [{ key: `destination.labels[${MB}]`, values: ['v'] }] }] } }), '/validate'],
    ['a 1 MB header name with a bad regex', () => object('networking.istio.io', 'VirtualService', { spec: { hosts: ['web'], http: [{ match: [{ headers: { [`x-${MB}`]: { regex: '(?=a)' } } }] }] } }), '/validate'],
    ['a 1 MB waypoint name', () => object('', 'Service', { metadata: { name: 'p', namespace: 'shop', labels: { 'istio.io/use-waypoint': MB } } }), '/validate'],
    ['a 1 MB dataplane-mode label value', () => podReview('shop', pod({ labels: { 'istio.io/dataplane-mode': MB } })), '/mutate'],
    ['a 1 MB mode override', () => podReview('shop', pod({ annotations: { 'meshguard.io/mode': MB } })), '/mutate'],
  ])('%s: a denial and an audit line of a few KB', async (_name, body, url) => {
    const { response, line, record } = await post(url, body());
    expect(response.allowed).toBe(false);
    expect(response.status.message.length).toBeLessThan(2_000);
    expect(response.status.message).toMatch(/…\(\+\d+ chars\)/);
    expect(line.length).toBeLessThan(8_000);
    expect(record.findings.length).toBeGreaterThan(0);
  });

  it('a 1 MB generateName and name are logged bounded', async () => {
    const p = pod();
    p.metadata!.generateName = MB;
    const { line, record } = await post('/mutate', podReview('shop', p));
    expect(line.length).toBeLessThan(2_000);
    expect(record.name).toBe(`${'k'.repeat(128)}…(+${1_000_000 - 128} chars)`);
    const named = await post('/mutate', podReview('shop', pod(), { name: MB }));
    expect(named.record.name).toMatch(/^k{128}…/);
  });

  it('a name that is not a string is not logged at all, never as nested fields', async () => {
    const p = pod();
    (p.metadata as Record<string, unknown>).generateName = { nested: { deeper: 'x' } };
    const { record } = await post('/mutate', podReview('shop', p));
    expect(record).not.toHaveProperty('name');
  });

  it('U+2028 and U+2029 in a label value are escaped in the message and the raw log line', async () => {
    const { response, line, record } = await post('/mutate', podReview('shop', pod({ labels: { 'istio.io/dataplane-mode': 'a\u2028b\u2029c' } })));
    expect(response.status.message).toContain('"a\\u2028b\\u2029c"');
    expect(response.status.message).not.toMatch(/[\u2028\u2029]/);
    expect(line).not.toMatch(/[\u2028\u2029]/);
    expect(record.findings[0].message).toContain('a\\u2028b');
  });

  it('U+2028 in a logged name is escaped in the raw line and kept (as an escape) in the record', async () => {
    const { line, record } = await post('/mutate', podReview('shop', pod(), { name: 'web\u2028{"audit":true}' }));
    expect(line).not.toMatch(/[\u2028\u2029]/);
    expect(record.name).toBe('web\\u2028{"audit":true}');
  });
});
