import { describe, expect, it } from 'vitest';
import { DENIAL_MAX_CHARS, enforce, FINDINGS_MAX } from '../../../src/admission/outcome.js';
import { AUDIT_LINE_MAX_BYTES } from '../../../src/audit/record.js';
import type { Finding } from '../../../src/findings.js';
import { testApp } from '../../helpers/app.js';
import { namespace, review } from '../../helpers/objects.js';

// Issue 7 item 2: findings are capped per object, so a response stays within 64 KiB and an audit
// line within 16 KiB whatever the input (60,000 removed `when` keys made a 14.9 MB denial and a 20 MB line).
const RESPONSE_MAX_BYTES = 64 * 1024;

const error = (i: number, message = `[deprecated-field] finding ${i}; fix it.`): Finding => ({ rule: 'deprecated-field', severity: 'error', path: `spec.x[${i}]`, message });

describe('enforce caps findings', () => {
  it('keeps the first FINDINGS_MAX, denying ones first, and counts the rest', () => {
    const warning: Finding = { rule: 'deprecated-api-version', severity: 'warning', path: 'apiVersion', message: '[deprecated-api-version] old; new.' };
    const out = enforce([warning, ...Array.from({ length: FINDINGS_MAX + 5 }, (_, i) => error(i))], 'enforce');
    expect(out.allowed).toBe(false);
    expect(out.findings).toHaveLength(FINDINGS_MAX);
    expect(out.findings.every((f) => f.result === 'denied')).toBe(true);
    expect(out.findingsOmitted).toBe(6);
    expect(out.denial).toMatch(/finding 19; fix it\. \(at spec\.x\[19\]\); and 5 more findings \(`meshguard check` on the manifest lists them all\)$/);
    expect(out.warnings).toEqual(['[deprecated-api-version] old; new.']);
  });

  it('leaves a short list alone', () => {
    const out = enforce([error(0)], 'enforce');
    expect(out.findings).toHaveLength(1);
    expect(out).not.toHaveProperty('findingsOmitted');
    expect(out.denial).toBe('[deprecated-field] finding 0; fix it. (at spec.x[0])');
  });

  it('keeps the denial within DENIAL_MAX_CHARS, counting the findings it had no room for', () => {
    const long = Array.from({ length: 10 }, (_, i) => error(i, `[deprecated-field] ${'x'.repeat(3000)} ${i}`));
    const denial = enforce(long, 'enforce').denial!;
    expect(denial.length).toBeLessThan(DENIAL_MAX_CHARS + 100);
    expect(denial).toMatch(/; and 8 more findings/);
    const one = enforce([error(0, `[deprecated-field] ${'y'.repeat(20_000)}`)], 'enforce').denial!;
    expect(one.length).toBeLessThanOrEqual(DENIAL_MAX_CHARS);
    expect(one).toMatch(/^\[deprecated-field\] y+…$/);
  });
});

describe('hostile objects get bounded answers and audit lines', () => {
  const post = async (object: Record<string, unknown>) => {
    const { app, raw, lines } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
    const res = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ kind: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy' }, namespace: 'shop', name: 'p', object }),
    });
    await app.close();
    return { res, line: raw[raw.length - 1], record: lines[lines.length - 1] };
  };
  const policyWith = (spec: Record<string, unknown>) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'shop' }, spec });

  // Within the object budget (README "Object budget"), so every rule walks them: 10,000 when entries count 40,000.
  it('10,000 removed when keys: 19 findings, then one that counts the rest', async () => {
    const when = Array.from({ length: 10_000 }, (_, i) => ({ key: 'destination.labels[app]', values: [`v${i}`] }));
    const { res, line, record } = await post(policyWith({ rules: [{ to: [{ operation: { paths: ['/x'] } }], when }] }));
    expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(RESPONSE_MAX_BYTES);
    const { response } = res.json();
    expect(response.allowed).toBe(false);
    expect(response.status.message).toMatch(/^\[authz-removed-when-key\] when key "destination\.labels\[app\]" was removed/);
    expect(response.status.message).toContain('(at spec.rules[0].when[18].key); [authz-removed-when-key] 9981 more when keys were removed from AuthorizationPolicy (the first 19 are listed)');
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(AUDIT_LINE_MAX_BYTES);
    expect(record.findings.length).toBeLessThanOrEqual(FINDINGS_MAX);
  });

  it('10,000 targetRefs: one finding, not one per ref', async () => {
    const targetRefs = Array.from({ length: 10_000 }, (_, i) => ({ kind: 'Nope', group: 'x', name: `t${i}` }));
    const { res, line, record } = await post(policyWith({ targetRefs }));
    expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(RESPONSE_MAX_BYTES);
    expect(res.json().response.status.message).toContain('spec.targetRefs holds 10000 refs but at most 16 are allowed');
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(AUDIT_LINE_MAX_BYTES);
    expect(record.findings.filter((f: { rule: string }) => f.rule === 'authz-target-invalid')).toHaveLength(1);
  });

  it('60,000 when keys, over the object budget: one object-budget-exceeded finding, no rule walks them', async () => {
    const when = Array.from({ length: 60_000 }, (_, i) => ({ key: 'destination.labels[app]', values: [`v${i}`] }));
    const { res, record } = await post(policyWith({ rules: [{ to: [{ operation: { paths: ['/x'] } }], when }] }));
    const { response } = res.json();
    expect(response.allowed).toBe(false);
    expect(response.status.message).toMatch(/^\[object-budget-exceeded\] the object has more than 50000 list entries and map keys in all .*spec\.rules\[0\]\.when alone 60000/);
    expect(record.findings.map((f: { rule: string }) => f.rule)).toEqual(['object-budget-exceeded']);
  });
});
