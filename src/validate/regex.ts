import { re2Error } from './re2-compile.js';
import { estimateProgramSize } from './regex-cost.js';

/**
 * Checks a regular expression the way istiod and Envoy will: istiod's validateStringRegexp
 * (pkg/config/validation/validation.go) wants it non-empty, at most 1024 bytes, and compilable by
 * Go's regexp; Envoy compiles it with Google RE2 and refuses a program over its size limit.
 */
export type RegexProblem =
  | { kind: 'empty' }
  | { kind: 'too-long'; bytes: number }
  | { kind: 'too-costly'; estimate: number }
  | { kind: 'invalid'; reason: string }
  /** Set by the server when compiling did not finish within its time budget. */
  | { kind: 'not-compiled'; reason: string };

/** What the server already knows about patterns (compiled off the event loop), by pattern. */
export type RegexVerdicts = ReadonlyMap<string, RegexProblem | undefined>;

/** istiod measures Go `len(re)`, i.e. UTF-8 bytes. */
export const REGEX_MAX_BYTES = 1024;

/**
 * Istio starts every Envoy (sidecars, gateways, waypoints) with the runtime key
 * `re2.max_program_size.error_level: "32768"` (pkg/bootstrap/config.go, extractRuntimeFlags), and
 * Envoy refuses a regex whose RE2::ProgramSize() is larger (source/common/common/regex.cc,
 * CompiledGoogleReMatcher: "RE2 program size of N > max program size of 32768"), rejecting the
 * route's config. istiod does not check it (validateStringRegexp checks only the length).
 */
export const REGEX_MAX_PROGRAM_SIZE = 32_768;

/**
 * The regex budget of one object (README "Regex budget"): regexes (each field counts), and their distinct
 * patterns' estimated
 * program sizes added up. Compile time and native memory follow program size (about 0.5 µs and
 * 100 bytes per instruction here), so this bounds one object's compile work to about 0.15 s.
 */
export const REGEX_BUDGET = { patterns: 512, programSize: 8 * REGEX_MAX_PROGRAM_SIZE } as const;

/** Everything that can be said without compiling: emptiness, length, Go-only syntax, estimated size. */
export function precheckRegex(pattern: string): RegexProblem | undefined {
  if (pattern === '') return { kind: 'empty' };
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > REGEX_MAX_BYTES) return { kind: 'too-long', bytes };
  const reason = goIncompatibility(pattern);
  if (reason !== undefined) return { kind: 'invalid', reason };
  const estimate = estimateProgramSize(pattern);
  if (estimate > REGEX_MAX_PROGRAM_SIZE) return { kind: 'too-costly', estimate };
  return undefined;
}

/** RE2's verdict on a pattern that passed precheckRegex: from `verdicts`, else compiled here (cached). */
export function compiledVerdict(pattern: string, verdicts?: RegexVerdicts): RegexProblem | undefined {
  if (verdicts?.has(pattern)) return verdicts.get(pattern);
  const reason = compileCached(pattern);
  return reason === null ? undefined : { kind: 'invalid', reason };
}

export type RegexPlan =
  | { exceeded: string }
  /** `problems`: what precheckRegex found, by pattern; the rest are to `compile`. */
  | { exceeded?: undefined; compile: string[]; problems: ReadonlyMap<string, RegexProblem> };

/**
 * Checks one object's patterns (every regex field, so duplicates count) against REGEX_BUDGET before
 * anything compiles, and lists the distinct
 * patterns left to compile (those that pass precheckRegex). `exceeded` says what is over the budget.
 */
export function planRegexes(patterns: readonly string[]): RegexPlan {
  if (patterns.length > REGEX_BUDGET.patterns)
    return { exceeded: `holds more than ${REGEX_BUDGET.patterns} regexes, and meshguard checks at most ${REGEX_BUDGET.patterns} in one object` };
  const distinct = [...new Set(patterns)];
  let programSize = 0;
  const compile: string[] = [];
  const problems = new Map<string, RegexProblem>();
  for (const pattern of distinct) {
    const problem = precheckRegex(pattern);
    if (problem) {
      problems.set(pattern, problem);
      continue;
    }
    programSize += estimateProgramSize(pattern);
    compile.push(pattern);
  }
  if (programSize > REGEX_BUDGET.programSize)
    return {
      exceeded: `holds regexes that compile to about ${programSize} RE2 instructions in all (estimated), and meshguard compiles at most ${REGEX_BUDGET.programSize} for one object`,
    };
  return { compile, problems };
}

// Unicode general-category long names that the binding rewrites to RE2's short ones
// (node-re2 lib/pattern.cc unicodeClasses). Neither Go's regexp before 1.25 nor RE2 accepts them.
const TRANSLATED_CLASS_NAMES = new Set([
  'Uppercase_Letter', 'Lowercase_Letter', 'Titlecase_Letter', 'Cased_Letter', 'Modifier_Letter', 'Other_Letter',
  'Letter', 'Nonspacing_Mark', 'Spacing_Mark', 'Enclosing_Mark', 'Mark', 'Decimal_Number', 'Letter_Number',
  'Other_Number', 'Number', 'Connector_Punctuation', 'Dash_Punctuation', 'Open_Punctuation', 'Close_Punctuation',
  'Initial_Punctuation', 'Final_Punctuation', 'Other_Punctuation', 'Punctuation', 'Math_Symbol', 'Currency_Symbol',
  'Modifier_Symbol', 'Other_Symbol', 'Symbol', 'Space_Separator', 'Line_Separator', 'Paragraph_Separator',
  'Separator', 'Control', 'Format', 'Surrogate', 'Private_Use', 'Unassigned', 'Other',
]);

const isUpperAscii = (c: string | undefined) => c !== undefined && c >= 'A' && c <= 'Z';

/**
 * Syntax the binding accepts but istiod's Go regexp rejects. node-re2 translates JavaScript-isms
 * before RE2 sees them (lib/pattern.cc translateRegExp: `\uXXXX`, `\u{...}`, `\cX`, long `\p{...}`
 * names), and RE2 C++ knows `\C` (any byte), which Go's parser refuses (regexp/syntax/parse.go:
 * "any byte; not supported"). Text inside `\Q...\E` is literal in both and skipped.
 */
function goIncompatibility(p: string): string | undefined {
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== '\\') continue;
    const next = p[i + 1];
    if (next === 'Q') {
      const end = p.indexOf('\\E', i + 2);
      if (end < 0) return undefined;
      i = end + 1;
      continue;
    }
    if (next === 'C') return 'invalid escape sequence: \\C (match any byte is not supported by RE2 in Go)';
    if (next === 'u') return 'invalid escape sequence: \\u (JavaScript syntax; RE2 writes \\x{41})';
    if (next === 'c' && isUpperAscii(p[i + 2])) return `invalid escape sequence: \\c${p[i + 2]} (JavaScript syntax; RE2 writes \\x{1})`;
    if ((next === 'p' || next === 'P') && p[i + 2] === '{') {
      const close = p.indexOf('}', i + 3);
      const name = close < 0 ? '' : p.slice(i + 3, close);
      if (TRANSLATED_CLASS_NAMES.has(name) || name.startsWith('Script=') || name.startsWith('sc='))
        return `invalid character class range: \\${next}{${name}} (RE2 knows short names such as \\pL and script names such as \\p{Greek})`;
    }
    i++;
  }
  return undefined;
}

/**
 * Compile results by pattern: RE2's error, or null when it compiles. Routes repeat the same patterns
 * across objects and updates. Least recently used entries go first; a miss costs one compile, and
 * REGEX_BUDGET bounds the misses one object can cause, so no input makes it thrash into unbounded work.
 */
export class CompileCache {
  readonly #entries = new Map<string, string | null>();
  readonly max: number;
  // A plain field, not a parameter property: the validation worker runs this file with Node's type
  // stripping under vitest, which supports only erasable TypeScript.
  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached result, or undefined on a miss. */
  get(pattern: string): string | null | undefined {
    const hit = this.#entries.get(pattern);
    if (hit === undefined) return undefined;
    this.#entries.delete(pattern);
    this.#entries.set(pattern, hit);
    return hit;
  }

  set(pattern: string, error: string | null): void {
    this.#entries.delete(pattern);
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(pattern, error);
  }
}

/** Shared by the in-process check and the server's compile worker (src/server/regex-compiler.ts). */
export const compileCache = new CompileCache(2 * REGEX_BUDGET.patterns);

/**
 * RE2 is stricter than Go in one way that matters: it rejects nested repetition over 1000
 * (`(a{100}){100}`), which Envoy (also RE2 C++) would reject too.
 */
function compileCached(pattern: string): string | null {
  const hit = compileCache.get(pattern);
  if (hit !== undefined) return hit;
  const error = re2Error(pattern) ?? null;
  compileCache.set(pattern, error);
  return error;
}
