import { describe, expect, it } from 'vitest';
import { compileCache, compiledVerdict, planRegexes, precheckRegex, REGEX_BUDGET, REGEX_MAX_PROGRAM_SIZE } from '../../../src/validate/regex.js';
import { estimateProgramSize } from '../../../src/validate/regex-cost.js';

/** One pattern checked as the VirtualService rule checks it: what can be said without compiling, then RE2 (cached). */
const checkRegex = (pattern: string) => precheckRegex(pattern) ?? compiledVerdict(pattern);

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

});

describe('the compile cache', () => {
  // Each run uses patterns no other test compiles.
  const unique = (tag: string) => `^/${tag}-${Math.random().toString(36).slice(2)}$`;

  it('answers a pattern it holds without compiling it again', () => {
    const pattern = unique('hit');
    expect(checkRegex(pattern)).toBeUndefined();
    expect(compileCache.get(pattern)).toBeNull();
    // A cached answer that a compile would never give proves the answer came from the cache.
    compileCache.set(pattern, 'answer from the cache');
    expect(checkRegex(pattern)).toEqual({ kind: 'invalid', reason: 'answer from the cache' });
  });

  it('evicts the least recently used pattern when full, and compiles it again on the next check', () => {
    const old = unique('evicted');
    const kept = unique('kept');
    compileCache.set(old, 'stale answer');
    compileCache.set(kept, 'kept answer');
    for (let i = 0; i < compileCache.max - 1; i++) {
      if (i === 10) compileCache.get(kept); // used recently: stays
      checkRegex(unique(`filler${i}`));
    }
    expect(compileCache.size).toBe(compileCache.max);
    expect(compileCache.get(old)).toBeUndefined();
    expect(compileCache.get(kept)).toBe('kept answer');
    expect(checkRegex(old)).toBeUndefined();
    expect(compileCache.get(old)).toBeNull();
  });
});

describe('the regex budget', () => {
  // RE2::ProgramSize() of each pattern, measured with the RE2 the `re2` package vendors: the estimate
  // must not fall below it where it matters (large programs), so what Envoy refuses is caught.
  it.each([
    ['(?i)[\\pL\\pM\\pN]{360}q1', 519_126],
    ['(?i)[\\pL\\pM\\pN]{30}q1', 43_266],
    ['\\pL{200}', 239_204],
    ['\\pN{1000}', 233_004],
    ['.{1000}', 8_004],
    ['\\w{1000}', 3_004],
    ['(?i)\\w{1000}', 8_004],
    ['(?i)[a-z0-9]{1000}', 7_004],
    ['\\S{1000}', 10_004],
    ['\\pL{3,}', 3_593],
    ['(?i)(?:é){100}', 304],
  ])('estimates %s at no less than its real program size %i', (pattern, programSize) => {
    expect(estimateProgramSize(pattern)).toBeGreaterThanOrEqual(programSize);
  });

  it.each([
    ['^/api/v[0-9]+/users/[^/]+$', 22],
    ['https?://([a-z0-9-]+\\.)*example\\.com', 31],
    ['(?i)tenant-7-[a-z]+', 20],
  ])('keeps everyday patterns small: %s (real size %i)', (pattern, programSize) => {
    expect(estimateProgramSize(pattern)).toBeLessThan(programSize * 3);
  });

  it('refuses, without compiling, a pattern Envoy in Istio would refuse for its program size', () => {
    const pattern = `(?i)[\\pL\\pM\\pN]{360}q${Math.random()}`;
    expect(checkRegex(pattern)).toEqual({ kind: 'too-costly', estimate: expect.any(Number) });
    expect(compileCache.get(pattern)).toBeUndefined();
    expect(checkRegex('\\pL{1000}')).toMatchObject({ kind: 'too-costly' });
    expect(estimateProgramSize('\\pL{21}')).toBeLessThanOrEqual(REGEX_MAX_PROGRAM_SIZE);
    expect(checkRegex('\\pL{21}')).toBeUndefined();
  });

  it('refuses long patterns before anything else', () => {
    expect(checkRegex('(a*)*'.repeat(100_000))).toMatchObject({ kind: 'too-long' });
    expect(checkRegex('((((a*)*)*)*)*b')).toBeUndefined();
  });

  it('counts the regexes of an object, and compiles each distinct pattern once', () => {
    const many = Array.from({ length: REGEX_BUDGET.patterns + 1 }, (_, i) => `^/p${i}$`);
    expect(planRegexes(many)).toEqual({ exceeded: expect.stringContaining(`holds more than ${REGEX_BUDGET.patterns} regexes`) });
    expect(planRegexes(many.slice(1))).toEqual({ compile: many.slice(1), problems: new Map() });
    expect(planRegexes(Array(REGEX_BUDGET.patterns).fill('^/same$'))).toEqual({ compile: ['^/same$'], problems: new Map() });
  });

  it('adds up estimated program sizes per object; patterns refused on their own do not count', () => {
    const heavy = (i: number) => `\\pL{20}x${i}`;
    const fits = Math.floor(REGEX_BUDGET.programSize / estimateProgramSize(heavy(10)));
    expect(planRegexes(Array.from({ length: fits }, (_, i) => heavy(i + 10)))).toMatchObject({ compile: expect.any(Array) });
    expect(planRegexes(Array.from({ length: fits + 1 }, (_, i) => heavy(i + 10)))).toEqual({ exceeded: expect.stringContaining('RE2 instructions') });
    expect(planRegexes(['\\pL{1000}', 'a\\Cb', '', '^/ok$'])).toEqual({
      compile: ['^/ok$'],
      problems: new Map([
        ['\\pL{1000}', { kind: 'too-costly', estimate: expect.any(Number) }],
        ['a\\Cb', { kind: 'invalid', reason: expect.stringContaining('\\C') }],
        ['', { kind: 'empty' }],
      ]),
    });
  });
});
