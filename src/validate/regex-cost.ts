/**
 * An estimate of a regex's RE2 program size (RE2::ProgramSize, the instruction count Envoy checks),
 * made by reading the pattern once, before anything compiles it. Compile time and memory grow with
 * the program, and the program grows with repetition of large classes: `(?i)[\pL\pM\pN]{360}` is
 * 25 bytes and over 500,000 instructions (0.2-0.3 s and tens of MB to compile).
 *
 * The estimate errs high. Measured with RE2 (the version vendored by the `re2` package): a Unicode
 * class costs 66 (`\p{Greek}`) to 1,446 (`[\pL\pM\pN]`) instructions, so every class that reaches
 * beyond ASCII counts as UNICODE_CLASS; `.` and negated classes compile to about 8 (all of UTF-8);
 * a counted repetition `x{n,m}` copies x max(n, m) times, while `*`, `+` and `?` only add a loop;
 * case folding `(?i)` about doubles ASCII classes. RE2 adds about 5 instructions to every program.
 */
export const UNICODE_CLASS = 1500;
const ANY_CHAR = 8;
const BASE = 5;

interface Frame {
  /** Finished pieces of the current group. */
  total: number;
  /** The last atom, which a following quantifier repeats. */
  last: number;
}

export function estimateProgramSize(pattern: string): number {
  const fold = /\(\?[a-zA-Z]*i/.test(pattern);
  const literal = fold ? 2 : 1;
  const stack: Frame[] = [{ total: 0, last: 0 }];
  const top = () => stack[stack.length - 1];
  const atom = (cost: number) => {
    const f = top();
    f.total += f.last;
    f.last = cost;
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const [cost, next] = escapeCost(pattern, i, literal);
      if (pattern[i + 1] === 'Q') {
        // \Q...\E: literal text; a quantifier after it repeats its last character only.
        const end = pattern.indexOf('\\E', i + 2);
        const text = end < 0 ? pattern.length - i - 2 : end - i - 2;
        if (text > 0) {
          atom((text - 1) * literal);
          atom(literal);
        }
        i = end < 0 ? pattern.length : end + 2;
        continue;
      }
      atom(cost);
      i = next;
    } else if (c === '[') {
      const [cost, next] = classCost(pattern, i, fold);
      atom(cost);
      i = next;
    } else if (c === '(') {
      const close = pattern.indexOf(')', i);
      const flagsOnly = /^\(\?[a-zA-Z-]*\)/.test(pattern.slice(i, close + 1));
      if (flagsOnly) {
        i = close + 1;
        continue;
      }
      const f = top();
      f.total += f.last;
      f.last = 0;
      stack.push({ total: 0, last: 0 });
      i++;
      // Skip a group's prefix: (?:, (?flags:, (?P<name>, (?<name>.
      if (pattern[i] === '?') {
        const m = /^\?(?:P?<[^>]*>|[a-zA-Z-]*:)/.exec(pattern.slice(i, i + 260));
        i += m ? m[0].length : 1;
      }
    } else if (c === ')') {
      if (stack.length > 1) {
        const f = stack.pop()!;
        const group = f.total + f.last + 2;
        atom(group);
      }
      i++;
    } else if (c === '|') {
      const f = top();
      f.total += f.last + 1;
      f.last = 0;
      i++;
    } else if (c === '*' || c === '+' || c === '?') {
      top().last += 1;
      i++;
      if (pattern[i] === '?') i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
      if (m) {
        const min = Number(m[1]);
        const max = m[3] ? Number(m[3]) : m[2] ? min + 1 : min;
        top().last = top().last * Math.max(min, max, 1) + 1;
        i += m[0].length;
        if (pattern[i] === '?') i++;
      } else {
        atom(literal);
        i++;
      }
    } else if (c === '.') {
      atom(ANY_CHAR);
      i++;
    } else {
      atom(literal);
      i++;
    }
  }
  let total = 0;
  while (stack.length) {
    const f = stack.pop()!;
    total += f.total + f.last;
  }
  return total + BASE;
}

/** The cost of the escape at `i` and the index after it. */
function escapeCost(p: string, i: number, literal: number): [number, number] {
  const c = p[i + 1];
  if (c === 'p' || c === 'P') {
    if (p[i + 2] === '{') {
      const close = p.indexOf('}', i + 3);
      return [UNICODE_CLASS, close < 0 ? p.length : close + 1];
    }
    return [UNICODE_CLASS, i + 3];
  }
  if (c === 'x' && p[i + 2] === '{') {
    const close = p.indexOf('}', i + 3);
    return [literal, close < 0 ? p.length : close + 1];
  }
  if (c === 'x') return [literal, i + 4];
  if (c === 'D' || c === 'S' || c === 'W') return [ANY_CHAR * 2, i + 2];
  // Folded, \w also matches K (U+212A KELVIN SIGN) and ſ (U+017F): UTF-8 beyond ASCII.
  if (c === 'd' || c === 's' || c === 'w') return [literal === 1 ? 3 : ANY_CHAR, i + 2];
  return [literal, i + 2];
}

/** The cost of the character class starting at `i` (`[`) and the index after its `]`. */
function classCost(p: string, i: number, fold: boolean): [number, number] {
  let j = i + 1;
  const negated = p[j] === '^';
  if (negated) j++;
  let items = 0;
  let unicode = false;
  // A `]` first in the class is a literal.
  if (p[j] === ']') {
    items++;
    j++;
  }
  while (j < p.length && p[j] !== ']') {
    if (p[j] === '\\') {
      const c = p[j + 1];
      if (c === 'p' || c === 'P') unicode = true;
      if (c === 'D' || c === 'S' || c === 'W') unicode = true;
      if ((c === 'p' || c === 'P' || c === 'x') && p[j + 2] === '{') {
        const close = p.indexOf('}', j + 3);
        if (c === 'x') unicode ||= parseInt(p.slice(j + 3, close), 16) > 0x7f;
        j = close < 0 ? p.length : close + 1;
      } else j += 2;
    } else if (p.startsWith('[:', j)) {
      const close = p.indexOf(':]', j + 2);
      if (p[j + 2] === '^') unicode = true;
      j = close < 0 ? p.length : close + 2;
    } else {
      if (p.charCodeAt(j) > 0x7f) unicode = true;
      j++;
    }
    items++;
  }
  const next = j < p.length ? j + 1 : p.length;
  if (unicode) return [UNICODE_CLASS, next];
  if (negated) return [ANY_CHAR * 2, next];
  return [(1 + items) * (fold ? 3 : 1), next];
}
