import { describe, expect, it } from 'vitest';
import { limitWarnings, warningText } from '../../../src/admission/outcome.js';
import { readManifests } from '../../../src/cluster/from-files.js';
import { checkManifests } from '../../../src/check/run.js';
import { loadPolicyFile } from '../../../src/policy/load.js';

// kube-apiserver (k8s.io/apiserver pkg/server/filters/warning.go) cuts each warning to 256 runes once
// a request's warnings pass 4096 runes in total; a warning within 256 is shown whole by kubectl.
const runes = (s: string) => [...s].length;
const findings = checkManifests(readManifests(['examples/bad']), loadPolicyFile()).findings;

describe('warnings as kubectl shows them', () => {
  it.each(findings.map((f) => [f.rule, f.message]))('%s: at most 256 runes, rule id first, short messages whole', (rule, message) => {
    const w = warningText(message);
    expect(runes(w)).toBeLessThanOrEqual(256);
    expect(w.startsWith(`[${rule}] `)).toBe(true);
    if (runes(message) <= 256) expect(w).toBe(message);
    // Otherwise it starts with what the message starts with (what is wrong).
    else expect(w.slice(0, 60)).toBe(message.slice(0, 60));
  });

  it('a long message keeps what is wrong and its fix (the last sentence)', () => {
    const message = findings.find((f) => f.rule === 'authz-target-not-waypoint')!.message;
    expect(runes(message)).toBeGreaterThan(256);
    const w = warningText(message);
    expect(w).toMatch(/^\[authz-target-not-waypoint\] Service "inventory" is not bound to a waypoint .*… Bind it: kubectl label service inventory -n store istio\.io\/use-waypoint=waypoint\.$/);
  });

  it('a message of one sentence keeps what follows its last "; " (the fix)', () => {
    const message = `[deprecated-field] ${'spec.http[0].route[0].destination '.repeat(10)}is deprecated; use mirrorPercentage instead.`;
    const w = warningText(message);
    expect(runes(w)).toBeLessThanOrEqual(256);
    expect(w).toMatch(/^\[deprecated-field\] spec\.http.*…; use mirrorPercentage instead\.$/);
  });

  it('counts runes, as kube-apiserver does, not UTF-16 units or bytes', () => {
    const message = `[regex-invalid] ${'😀'.repeat(230)}`;
    expect(message.length).toBeGreaterThan(256);
    expect(warningText(message)).toBe(message);
  });

  it('puts newlines and runs of spaces on one line (a Warning header cannot carry a newline)', () => {
    expect(warningText('[rule-x] what\n  is   wrong')).toBe('[rule-x] what is wrong');
  });

  it('keeps all warnings within 4096 runes and says how many it left out', () => {
    const many = Array.from({ length: 40 }, (_, i) => `[rule-${i}] ${'x'.repeat(240)}`);
    const out = limitWarnings(many);
    expect(out.reduce((n, w) => n + runes(w), 0)).toBeLessThanOrEqual(4096);
    expect(out.every((w) => runes(w) <= 256)).toBe(true);
    const shown = out.length - 1;
    expect(out.at(-1)).toBe(`[meshguard] ${40 - shown} more findings not shown; meshguard's audit log has them all.`);
    expect(out.slice(0, shown)).toEqual(many.slice(0, shown).map(warningText));
  });

  it('says nothing extra when everything fits', () => {
    const few = ['[a] one', '[b] two'];
    expect(limitWarnings(few)).toEqual(few);
  });
});
