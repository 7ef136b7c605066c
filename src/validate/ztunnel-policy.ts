// What ztunnel makes of a selector-bound (or namespace-wide) AuthorizationPolicy: istiod's
// conversion in pilot/pkg/serviceregistry/ambient/authorization.go (convertAuthorizationPolicy,
// handleRule, isMatchEmpty, hasEffectiveRules; istio/istio master of 2026-08-22, after 1.31.0-rc.0).
// - Each `to[]` and `from[]` entry becomes one match of its clause, each `when[]` one clause of its
//   own; a rule matches when every clause has a matching match (AND of ORs).
// - Only L4 fields are copied into a match. An ALLOW rule with any L7 attribute is dropped whole.
//   In a DENY rule the L7 fields are left out; a match left with nothing is skipped by ztunnel
//   ("match-none"), so a clause of only such matches makes the whole rule a no-op.
// - `trustDomains` / `notTrustDomains` (source, 1.31) are not L7 to istiod: it reports nothing and
//   copies nothing, so they vanish silently.
import { isRecord } from '../kube.js';
import { L4_WHEN_KEYS, OPERATION_FIELDS, removedWhenKeyAdvice, SOURCE_FIELDS } from './l7-attributes.js';

/** Source fields dropped without a word (not in httpSources, not in the match). */
export const SILENTLY_DROPPED_SOURCE_FIELDS = ['trustDomains', 'notTrustDomains'];

export interface ZtunnelMatch {
  /** `spec.rules[0].to[1]`, `spec.rules[0].when[0]`. */
  path: string;
  /** Nothing ztunnel can match on is left: ztunnel skips it. */
  empty: boolean;
  /** L7 fields istiod leaves out (and names in its status), as paths. */
  l7: string[];
  /** Fields istiod leaves out without a word (`trustDomains`), as paths. */
  silent: string[];
}

export interface ZtunnelRule {
  index: number;
  /** istiod found an L7 attribute (it then drops an ALLOW rule and lists it in its status). */
  hasL7: boolean;
  /** `to`, `from` and each `when`, in istiod's order. */
  clauses: Array<{ name: string; matches: ZtunnelMatch[] }>;
}

const nonEmptyList = (value: unknown) => Array.isArray(value) && value.length > 0;
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const setFields = (obj: Record<string, unknown>, path: string) =>
  Object.keys(obj).filter((k) => Object.hasOwn(obj, k) && nonEmptyList(obj[k])).map((k) => ({ field: k, path: `${path}.${k}` }));

/** The ztunnel view of every rule of a policy. */
export function ztunnelRules(spec: Record<string, unknown>): ZtunnelRule[] {
  return listOf(spec.rules).map((rule, r) => convertRule(isRecord(rule) ? rule : {}, r));
}

function convertRule(rule: Record<string, unknown>, r: number): ZtunnelRule {
  const at = `spec.rules[${r}]`;
  let hasL7 = false;
  const entry = (value: unknown, path: string, inner: string, layers: Record<string, 'L4' | 'L7'>): ZtunnelMatch => {
    const obj = isRecord(value) && isRecord(value[inner]) ? value[inner] : {};
    const fields = setFields(obj, `${path}.${inner}`);
    const l7 = fields.filter((f) => layers[f.field] === 'L7');
    if (l7.length) hasL7 = true;
    const silent = fields.filter((f) => SILENTLY_DROPPED_SOURCE_FIELDS.includes(f.field));
    return { path, empty: !fields.some((f) => layers[f.field] === 'L4'), l7: l7.map((f) => f.path), silent: silent.map((f) => f.path) };
  };
  const clauses: ZtunnelRule['clauses'] = [];
  const to = listOf(rule.to).map((t, i) => entry(t, `${at}.to[${i}]`, 'operation', OPERATION_FIELDS));
  if (to.length) clauses.push({ name: 'to', matches: to });
  const from = listOf(rule.from).map((f, i) => entry(f, `${at}.from[${i}]`, 'source', SOURCE_FIELDS));
  if (from.length) clauses.push({ name: 'from', matches: from });
  listOf(rule.when).forEach((when, w) => {
    const path = `${at}.when[${w}]`;
    const cond = isRecord(when) ? when : {};
    const key = typeof cond.key === 'string' ? cond.key : '';
    const l4 = L4_WHEN_KEYS.has(key);
    const empty = !l4 || (!nonEmptyList(cond.values) && !nonEmptyList(cond.notValues));
    const l7 = !l4 && key !== '' && !removedWhenKeyAdvice(key);
    if (l7) hasL7 = true;
    clauses.push({ name: `when[${w}]`, matches: [{ path, empty, l7: l7 ? [`${path}.key`] : [], silent: [] }] });
  });
  return { index: r, hasL7, clauses };
}

/** A DENY rule that ztunnel never fires: some clause has only empty matches (hasEffectiveRules). */
export function emptyClause(rule: ZtunnelRule): string | undefined {
  return rule.clauses.find((c) => c.matches.every((m) => m.empty))?.name;
}
