// Client values (label keys and values, header names, `when` keys, names, anything a request carries)
// reach log lines and the messages kubectl shows. One 1 MB key must not make a 2 MB line, and a raw
// line break (U+2028 and U+2029 included, which some log consumers split on) must not forge a line.

/** Longest client value copied into a log field or a message, in UTF-16 code units. */
export const CLIENT_TEXT_MAX = 128;

// C0 and C1 controls, NEL and the Unicode line and paragraph separators: matching them is the point.
// eslint-disable-next-line no-control-regex
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const escapeBreak = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The first `max` characters of a client string, never splitting a surrogate pair, and how many were left out. */
function cut(value: string, max: number): { text: string; left: number } {
  if (value.length <= max) return { text: value, left: 0 };
  // A lone half of a surrogate pair is not text.
  const end = /[\ud800-\udbff]/.test(value[max - 1] ?? '') ? max - 1 : max;
  return { text: value.slice(0, end), left: value.length - end };
}
const leftOut = (left: number) => (left ? `…(+${left} chars)` : '');

/**
 * A client string made safe for a log field or a message: line breaks and controls escaped as
 * `\uXXXX`, and cut to `max` characters with the number left out said ("…(+N chars)").
 */
export function clientText(value: string, max = CLIENT_TEXT_MAX): string {
  const { text, left } = cut(value, max);
  return text.replace(BREAKS, escapeBreak) + leftOut(left);
}

/** Any client value for interpolation into a message: a string as clientText, anything else named by its type. */
export function shownValue(value: unknown, max = CLIENT_TEXT_MAX): string {
  if (typeof value === 'string') return clientText(value, max);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? '(a list)' : `(${typeof value === 'object' ? 'an object' : typeof value})`;
}

/** A client value as a JSON-quoted string for a message (`"a\\b"`), bounded, line separators escaped. */
export function quoted(value: unknown, max = CLIENT_TEXT_MAX): string {
  if (typeof value !== 'string') return shownValue(value, max);
  const { text, left } = cut(value, max);
  return escapeLineSeparators(JSON.stringify(text)) + leftOut(left);
}

/** A client value as a log field: bounded text when it is a string, otherwise absent (never nested fields). */
export function logText(value: unknown, max = CLIENT_TEXT_MAX): string | undefined {
  return typeof value === 'string' ? clientText(value, max) : undefined;
}

/**
 * pino's last step before writing a line: escapes U+2028 and U+2029, which JSON.stringify leaves raw.
 * They can only occur inside JSON strings, where `\u2028` means the same character.
 */
export function escapeLineSeparators(line: string): string {
  return line.replace(/[\u2028\u2029]/g, escapeBreak);
}
