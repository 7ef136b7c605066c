import { clientText, escapeLineSeparators } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { inRange } from '../istio-version.js';
import { isRecord } from '../kube.js';
import type { DeprecationEntry } from '../policy/types.js';
import type { ValidationContext, ValidationInput } from './index.js';

/** One place a field path matched in an object. */
export interface FieldMatch {
  /** The concrete path, e.g. `spec.http[2].mirrorPercent`. */
  path: string;
  value: unknown;
  /** The object, map or array holding the value (for sibling checks). */
  parent: unknown;
}

type Segment = { key: string } | { each: 'element' | 'value' };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PATH_KEY_MAX = 320;

/** Protobuf JSON reads null as "not set". */
const isSet = (value: unknown) => value !== undefined && value !== null;

/** Appends a map key to a path: `.name` for plain names, `["istio.io/rev"]` for anything else. */
export function keyPath(path: string, key: string): string {
  // A key is bounded (the longest legal label key, a 253-character prefix and a 63-character name,
  // fits) and its line separators escaped, so a 1 MB header name makes a short path.
  if (!IDENTIFIER.test(key) || key.length > PATH_KEY_MAX)
    return `${path}[${escapeLineSeparators(JSON.stringify(key.length > PATH_KEY_MAX ? clientText(key, PATH_KEY_MAX) : key))}]`;
  return path ? `${path}.${key}` : key;
}

const parsed = new Map<string, Segment[]>();

/**
 * Parses the catalog's path syntax (checked by the policy schema): dot-separated names, each
 * followed by any of `[]` (every element), `{}` (every map value) and `["key"]`.
 */
function parseFieldPath(path: string): Segment[] {
  const cached = parsed.get(path);
  if (cached) return cached;
  const segments: Segment[] = [];
  let i = 0;
  while (i < path.length) {
    let end = i;
    while (end < path.length && !'.[{'.includes(path[end])) end++;
    segments.push({ key: path.slice(i, end) });
    i = end;
    while (path[i] === '[' || path[i] === '{') {
      if (path.startsWith('[]', i)) {
        segments.push({ each: 'element' });
        i += 2;
      } else if (path.startsWith('{}', i)) {
        segments.push({ each: 'value' });
        i += 2;
      } else {
        const close = path.indexOf('"]', i + 2);
        // A malformed path (the schema keeps them out of the catalog) ends here rather than loop.
        if (close < 0) return cache(path, segments);
        segments.push({ key: path.slice(i + 2, close) });
        i = close + 2;
      }
    }
    if (path[i] === '.') i++;
  }
  return cache(path, segments);
}

function cache(path: string, segments: Segment[]): Segment[] {
  parsed.set(path, segments);
  return segments;
}

/**
 * Every place `path` reaches in `root` with a value set (null counts as unset, as in protobuf JSON),
 * in document order; the walk stops after `limit` matches.
 */
export function findPaths(root: unknown, path: string, limit = Infinity): FieldMatch[] {
  const out: FieldMatch[] = [];
  const segments = parseFieldPath(path);
  // The concrete path is kept as a trail of keys and indexes and only written out on a match: most
  // walks match nothing, and a VirtualService with many routes walks many elements.
  const trail: Array<string | number> = [];
  const walk = (value: unknown, parent: unknown, depth: number) => {
    if (!isSet(value) || out.length >= limit) return;
    if (depth === segments.length) {
      out.push({ path: formatTrail(trail), value, parent });
      return;
    }
    const segment = segments[depth];
    const step = (key: string | number, child: unknown) => {
      trail.push(key);
      walk(child, value, depth + 1);
      trail.pop();
    };
    if ('key' in segment) {
      if (isRecord(value) && Object.hasOwn(value, segment.key)) step(segment.key, value[segment.key]);
    } else if (segment.each === 'element') {
      if (Array.isArray(value)) for (let i = 0; i < value.length; i++) step(i, value[i]);
    } else if (isRecord(value)) {
      for (const k of Object.keys(value)) step(k, value[k]);
    }
  };
  walk(root, undefined, 0);
  return out;
}

function formatTrail(trail: Array<string | number>): string {
  let path = '';
  for (const key of trail) path = typeof key === 'number' ? `${path}[${key}]` : keyPath(path, key);
  return path;
}

function entryApplies(entry: DeprecationEntry, input: ValidationInput, istioVersion: string): boolean {
  return (
    inRange(istioVersion, entry) &&
    entry.group === input.group &&
    entry.kinds.includes(input.kind) &&
    (entry.versions.length === 0 || entry.versions.includes(input.version))
  );
}

const entryPaths = (entry: DeprecationEntry): string[] =>
  typeof entry.path === 'string' ? (entry.path ? [entry.path] : []) : entry.path;

const fixFor = (entry: DeprecationEntry) => {
  if (entry.rule === 'deprecated-api-version' || entry.rule === 'removed-api-version') return `set apiVersion: ${entry.group}/${entry.replacement}.`;
  return entry.replacement ? `use ${entry.replacement} instead.` : 'remove it.';
};

/**
 * The deprecation catalog (`deprecations:` in the policy file) applied to one object: deprecated
 * fields and values, removed annotations, and superseded apiVersions. Every entry is data; this
 * only matches paths and words the finding.
 */
export const validateDeprecations = (input: ValidationInput, { policy }: Pick<ValidationContext, 'policy'>): Finding[] => {
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const obj = input.object;
  if (!isRecord(obj)) return [];
  const findings: Finding[] = [];
  const report = (entry: DeprecationEntry, path: string, subject: string) => {
    const text = `${subject} ${entry.message}; ${fixFor(entry)}`;
    const f = finding(policy, entry.rule as Finding['rule'], path, text, entry.severity);
    if (f) findings.push(f);
  };
  for (const entry of policy.deprecations) {
    if (!entryApplies(entry, input, policy.istioVersion)) continue;
    const paths = entryPaths(entry);
    if (paths.length === 0) report(entry, 'apiVersion', `${entry.group}/${input.version}`);
    for (const path of paths)
      for (const match of findPaths(obj, path)) {
        if (entry.equals !== undefined && match.value !== entry.equals) continue;
        if (entry.with !== undefined && !(isRecord(match.parent) && isSet(match.parent[entry.with]))) continue;
        report(entry, match.path, match.path);
      }
  }
  return findings;
};
