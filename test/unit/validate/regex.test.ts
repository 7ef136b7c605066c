import { describe, expect, it } from 'vitest';
import { checkRegex } from '../../../src/validate/regex.js';

// What RE2 (Envoy's safe_regex) and Go's regexp (istiod's validateStringRegexp in
// pkg/config/validation/validation.go) accept, where JavaScript's RegExp would say otherwise.
describe('checkRegex: the RE2 divergence table', () => {
  it.each([
    ['inline flag (?i)', '(?i)^/api/.*'],
    ['POSIX class', '[[:alpha:]]+'],
    ['one-letter Unicode class without the u flag', '\\pL+'],
    ['Unicode script class', '\\p{Greek}+'],
    ['negated script class', '\\p{^Greek}'],
    ['\\Q...\\E literal block', '\\Qa.b*c\\E'],
    ['\\Q...\\E hides what would be invalid outside it', '\\Q\\C\\u0041\\E'],
    ['\\z end of text', '/api\\z'],
    ['(?s) dot matches newline', '(?s)a.b'],
    ['(?U) ungreedy', '(?U)a+'],
    ['named group (?P<name>)', '(?P<version>v[0-9]+)'],
    ['named group (?<name>), Go 1.22+ (Istio 1.22+)', '(?<version>v[0-9]+)'],
    ['octal escape', '\\012'],
    ['\\x{...} escape', '\\x{41}'],
    ['escaped slash', '^\\/api\\/'],
    ['repetition of 1000', 'a{1000}'],
    ['a catastrophic-backtracking pattern for JavaScript, linear in RE2', '(x+x+)+y'],
  ])('valid: %s', (_name, pattern) => {
    expect(checkRegex(pattern)).toBeUndefined();
  });

  it.each([
    ['lookahead', '(?=/api)/.*'],
    ['negative lookahead', '^(?!/admin).*'],
    ['lookbehind', '(?<=/api)/v1'],
    ['backreference', '(a)\\1'],
    ['named backreference', '(?<n>a)\\k<n>'],
    ['possessive quantifier', 'a++'],
    ['\\Z anchor', 'a\\Z'],
    ['unknown POSIX class', '[[:foo:]]'],
    ['unbalanced parenthesis', '(/api'],
    ['unterminated class', '[a-'],
    ['nothing to repeat', '*'],
    ['repetition over 1000', 'a{1001}'],
    ['trailing backslash', 'abc\\'],
    ['extended mode (?x) is not RE2', '(?x) a b'],
    // The binding accepts these; Go's regexp/syntax/parse.go rejects them ("any byte; not supported",
    // no \u or \cX escapes), and node-re2 lib/pattern.cc translates the JavaScript forms.
    ['\\C any byte (RE2 C++ only, not Go)', 'a\\Cb'],
    ['\\u JavaScript escape', '\\u0041'],
    ['\\u{...} JavaScript escape', '\\u{41}'],
    ['\\u inside a class', '[\\u0041-\\u005A]'],
    ['\\cX JavaScript control escape', '\\cA'],
    ['long Unicode category name', '\\p{Letter}+'],
    ['long Unicode category name, negated', '\\P{Uppercase_Letter}'],
    ['Script= property form', '\\p{Script=Greek}'],
    // Stricter than Go, as strict as Envoy: RE2 C++ rejects nested repetition over 1000 in total.
    ['nested repetition over 1000 (Envoy rejects it)', '(a{100}){100}'],
  ])('invalid: %s', (_name, pattern) => {
    expect(checkRegex(pattern)).toMatchObject({ kind: 'invalid' });
  });

  it('an escaped backslash before u is a literal, not a \\u escape', () => {
    expect(checkRegex('a\\\\u')).toBeUndefined();
  });

  it.each([
    ['empty', '', { kind: 'empty' }],
    ['1025 characters', 'a'.repeat(1025), { kind: 'too-long', bytes: 1025 }],
    ['1024 ASCII characters is the limit', 'a'.repeat(1024), undefined],
    ['istiod counts bytes: 600 two-byte characters', 'é'.repeat(600), { kind: 'too-long', bytes: 1200 }],
  ])('length: %s', (_name, pattern, expected) => {
    expect(checkRegex(pattern)).toEqual(expected);
  });

  it('reports the RE2 reason for an invalid pattern', () => {
    expect(checkRegex('(?=a)')).toEqual({ kind: 'invalid', reason: expect.stringContaining('(?=') });
  });

  it('gives the same answer from the cache', () => {
    const first = checkRegex('(a)\\1');
    expect(checkRegex('(a)\\1')).toEqual(first);
  });

  it('bounds the work on hostile patterns: long inputs are refused before compiling, large programs fail fast', () => {
    const started = performance.now();
    expect(checkRegex('(a*)*'.repeat(100_000))).toMatchObject({ kind: 'too-long' });
    expect(checkRegex('\\pL{1000}')).toMatchObject({ kind: 'invalid' });
    expect(checkRegex('((((a*)*)*)*)*b')).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
