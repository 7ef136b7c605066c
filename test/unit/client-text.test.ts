import { describe, expect, it } from 'vitest';
import { CLIENT_TEXT_MAX, clientText, escapeLineSeparators, logText, quoted, shownValue } from '../../src/client-text.js';

describe('client values in logs and messages', () => {
  it('keeps short text as it is', () => {
    expect(clientText('istio.io/rev')).toBe('istio.io/rev');
    expect(quoted('canary')).toBe('"canary"');
  });

  it('cuts long text and says how much was left out', () => {
    const out = clientText('k'.repeat(1_000_000));
    expect(out).toBe(`${'k'.repeat(CLIENT_TEXT_MAX)}…(+${1_000_000 - CLIENT_TEXT_MAX} chars)`);
    expect(clientText('abcdef', 3)).toBe('abc…(+3 chars)');
  });

  it('never splits a surrogate pair', () => {
    const out = clientText(`ab${'😀'.repeat(10)}`, 3);
    expect(out).toBe('ab…(+20 chars)');
    expect(out).not.toMatch(/[\ud800-\udfff]/);
  });

  it.each([
    ['line separator', '\u2028', '\\u2028'],
    ['paragraph separator', '\u2029', '\\u2029'],
    ['newline', '\n', '\\u000a'],
    ['carriage return', '\r', '\\u000d'],
    ['next line', '\u0085', '\\u0085'],
    ['escape', '\u001b', '\\u001b'],
  ])('escapes a %s', (_name, raw, escaped) => {
    expect(clientText(`a${raw}b`)).toBe(`a${escaped}b`);
  });

  it('names non-strings by their type instead of copying them', () => {
    expect(shownValue({ a: { b: 1 } })).toBe('(an object)');
    expect(shownValue([1, 2])).toBe('(a list)');
    expect(shownValue(3)).toBe('3');
    expect(shownValue(null)).toBe('null');
    expect(shownValue(undefined)).toBe('(undefined)');
    expect(quoted('say "hi"')).toBe('"say \\"hi\\""');
  });

  it('logs only strings', () => {
    expect(logText('ns')).toBe('ns');
    expect(logText({ nested: 'x' })).toBeUndefined();
    expect(logText(['a'])).toBeUndefined();
    expect(logText(7)).toBeUndefined();
  });

  it('escapes line separators in a finished JSON line, which stays the same JSON', () => {
    const line = JSON.stringify({ msg: 'a\u2028b\u2029c' });
    const escaped = escapeLineSeparators(line);
    expect(escaped).not.toMatch(/[\u2028\u2029]/);
    expect(JSON.parse(escaped)).toEqual({ msg: 'a\u2028b\u2029c' });
  });
});

describe('quoted', () => {
  it('quotes as JSON, bounds, and escapes line separators that JSON.stringify leaves raw', () => {
    expect(quoted('(a)\\1')).toBe('"(a)\\\\1"');
    expect(quoted('a\u2028b')).toBe('"a\\u2028b"');
    expect(quoted('abcdef', 3)).toBe('"abc"…(+3 chars)');
    expect(quoted({ a: 1 })).toBe('(an object)');
  });
});
