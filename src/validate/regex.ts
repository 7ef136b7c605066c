import RE2 from 're2';

/**
 * Checks a regular expression the way istiod and Envoy will: istiod's validateStringRegexp
 * (pkg/config/validation/validation.go) wants it non-empty, at most 1024 bytes, and compilable by
 * Go's regexp; Envoy compiles it with Google RE2. Patterns are compiled with the native RE2 binding,
 * never with JavaScript's RegExp (different syntax, and backtracking a hostile pattern can hang).
 */
export type RegexProblem =
  | { kind: 'empty' }
  | { kind: 'too-long'; bytes: number }
  | { kind: 'invalid'; reason: string };

/** istiod measures Go `len(re)`, i.e. UTF-8 bytes. */
export const REGEX_MAX_BYTES = 1024;

export function checkRegex(pattern: string): RegexProblem | undefined {
  if (pattern === '') return { kind: 'empty' };
  // Length before compiling, so the work per pattern stays bounded.
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > REGEX_MAX_BYTES) return { kind: 'too-long', bytes };
  const reason = goIncompatibility(pattern) ?? compileError(pattern);
  return reason === undefined ? undefined : { kind: 'invalid', reason };
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

// Compile results by pattern (undefined = compiles). Routes repeat the same patterns across
// objects and updates; a bounded LRU keeps the native compile off the hot path.
const CACHE_MAX = 1000;
const compiled = new Map<string, string | undefined>();

/**
 * RE2 compiles in time and memory bounded by the pattern: the slowest 1024-byte patterns we found
 * (large Unicode classes repeated, e.g. `\pL{200}`) take about 0.15 s and stop at RE2's 8 MiB
 * program budget. It is stricter than Go in one way that matters: it
 * rejects nested repetition over 1000 (`(a{100}){100}`), which Envoy (also RE2 C++) would reject too.
 */
function compileError(pattern: string): string | undefined {
  if (compiled.has(pattern)) {
    const hit = compiled.get(pattern);
    compiled.delete(pattern);
    compiled.set(pattern, hit);
    return hit;
  }
  let error: string | undefined;
  try {
    new RE2(pattern, 'u');
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  if (compiled.size >= CACHE_MAX) compiled.delete(compiled.keys().next().value as string);
  compiled.set(pattern, error);
  return error;
}
