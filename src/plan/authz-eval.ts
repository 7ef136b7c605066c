// A small AuthorizationPolicy evaluator for the fields the plan's rewrites move, used to prove that
// a rewritten namespace allows and denies the same requests as before. It follows Envoy's RBAC as
// istiod configures it (pilot/pkg/security/authz/builder, model/permission.go, model/principal.go):
// DENY policies first, then ALLOW policies if any apply; values match exactly, with a `*` prefix or
// suffix, or `*` for presence. CUSTOM and AUDIT policies do not decide.
import { isRecord, type KubeObject } from '../kube.js';
import { emptyClause, ztunnelRules } from '../validate/ztunnel-policy.js';

export interface AuthzRequest {
  /** The peer identity the enforcing proxy sees (SPIFFE without `spiffe://`), if mTLS. */
  principal?: string;
  namespace?: string;
  ip?: string;
  /** `iss/sub` of a validated JWT. */
  requestPrincipal?: string;
  host?: string;
  port: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

export class UnsupportedField extends Error {}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const has = (v: unknown) => Array.isArray(v) && v.length > 0;

function matchValue(pattern: string, value: string | undefined, fold = false): boolean {
  if (value === undefined) return false;
  if (fold) [pattern, value] = [pattern.toLowerCase(), value.toLowerCase()];
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function inBlock(block: string, ip: string | undefined): boolean {
  if (ip === undefined) return false;
  const [base, bits = '32'] = block.split('/');
  const a = ipv4(base);
  const b = ipv4(ip);
  if (a === undefined || b === undefined) throw new UnsupportedField(`ip block ${block}`);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(a / size) === Math.floor(b / size);
}

/** `field` matches when any value matches; `notField` when none does; an unset pair matches. */
function pair(obj: Record<string, unknown>, field: string, test: (pattern: string) => boolean): boolean {
  const not = `not${field[0].toUpperCase()}${field.slice(1)}`;
  if (has(obj[field]) && !list(obj[field]).some(test)) return false;
  if (has(obj[not]) && list(obj[not]).some(test)) return false;
  return true;
}

const SOURCE_FIELDS = new Set(['principals', 'namespaces', 'ipBlocks', 'remoteIpBlocks', 'requestPrincipals', 'serviceAccounts']);
const OPERATION_FIELDS = new Set(['hosts', 'ports', 'methods', 'paths']);
const known = (fields: Set<string>) => (key: string) => fields.has(key) || (key.startsWith('not') && fields.has(key[3].toLowerCase() + key.slice(4)));

function checkFields(obj: Record<string, unknown>, fields: Set<string>) {
  const unknownKey = Object.keys(obj).find((k) => !known(fields)(k));
  if (unknownKey) throw new UnsupportedField(unknownKey);
}

function sourceMatches(source: Record<string, unknown>, req: AuthzRequest, policyNs: string): boolean {
  checkFields(source, SOURCE_FIELDS);
  const sa = (p: string) => (p.includes('/') ? p : `${policyNs}/${p}`);
  const reqSa = req.principal?.match(/\/ns\/([^/]+)\/sa\/([^/]+)$/);
  return (
    pair(source, 'principals', (p) => matchValue(p, req.principal)) &&
    pair(source, 'namespaces', (p) => matchValue(p, req.namespace)) &&
    pair(source, 'ipBlocks', (p) => inBlock(p, req.ip)) &&
    pair(source, 'remoteIpBlocks', (p) => inBlock(p, req.ip)) &&
    pair(source, 'requestPrincipals', (p) => matchValue(p, req.requestPrincipal)) &&
    pair(source, 'serviceAccounts', (p) => reqSa !== null && reqSa !== undefined && sa(p) === `${reqSa[1]}/${reqSa[2]}`)
  );
}

function operationMatches(op: Record<string, unknown>, req: AuthzRequest): boolean {
  checkFields(op, OPERATION_FIELDS);
  return (
    pair(op, 'hosts', (p) => matchValue(p, req.host, true)) &&
    pair(op, 'ports', (p) => Number(p) === req.port) &&
    pair(op, 'methods', (p) => matchValue(p, req.method)) &&
    pair(op, 'paths', (p) => matchValue(p, req.path))
  );
}

function conditionMatches(cond: Record<string, unknown>, req: AuthzRequest): boolean {
  const key = String(cond.key);
  const header = key.match(/^request\.headers\[(.+)\]$/);
  const actual =
    key === 'source.principal' ? req.principal
    : key === 'source.namespace' ? req.namespace
    : key === 'source.ip' || key === 'remote.ip' ? req.ip
    : key === 'request.auth.principal' ? req.requestPrincipal
    : key === 'destination.port' ? String(req.port)
    : header ? req.headers?.[header[1].toLowerCase()]
    : undefined;
  if (actual === undefined && !header && !['source.principal', 'source.namespace', 'source.ip', 'remote.ip', 'request.auth.principal'].includes(key))
    throw new UnsupportedField(`when key ${key}`);
  const test = (p: string) => (key.endsWith('.ip') ? inBlock(p, actual) : matchValue(p, actual));
  if (has(cond.values) && !list(cond.values).some(test)) return false;
  if (has(cond.notValues) && list(cond.notValues).some(test)) return false;
  return true;
}

function ruleMatches(rule: Record<string, unknown>, req: AuthzRequest, policyNs: string): boolean {
  const from = Array.isArray(rule.from) ? rule.from : [];
  const to = Array.isArray(rule.to) ? rule.to : [];
  const when = Array.isArray(rule.when) ? rule.when : [];
  return (
    (from.length === 0 || from.some((f) => isRecord(f) && isRecord(f.source) && sourceMatches(f.source, req, policyNs))) &&
    (to.length === 0 || to.some((t) => isRecord(t) && isRecord(t.operation) && operationMatches(t.operation, req))) &&
    when.every((c) => isRecord(c) && conditionMatches(c, req))
  );
}

function policyMatches(policy: KubeObject, req: AuthzRequest): boolean {
  const rules = isRecord(policy.spec) && Array.isArray(policy.spec.rules) ? policy.spec.rules : [];
  return rules.some((r) => isRecord(r) && ruleMatches(r, req, policy.metadata?.namespace ?? 'default'));
}

const actionOf = (p: KubeObject) => (isRecord(p.spec) && typeof p.spec.action === 'string' ? p.spec.action : 'ALLOW');

/** Whether the policies that apply at one proxy let the request through. */
export function allows(policies: KubeObject[], req: AuthzRequest): boolean {
  if (policies.some((p) => actionOf(p) === 'DENY' && policyMatches(p, req))) return false;
  const allowing = policies.filter((p) => actionOf(p) === 'ALLOW');
  return allowing.length === 0 || allowing.some((p) => policyMatches(p, req));
}

/**
 * What ztunnel keeps of a selector-bound policy, as the admission rules read istiod's conversion
 * (validate/ztunnel-policy.ts ztunnelRules): an ALLOW rule with any L7 attribute is dropped; a rule
 * with a clause whose every match is left empty never matches and is dropped; of the rest, empty
 * matches are skipped and the fields istiod leaves out (L7, trustDomains) are removed.
 */
export function ztunnelView(policy: KubeObject): KubeObject {
  const spec = structuredClone(isRecord(policy.spec) ? policy.spec : {});
  const rules = Array.isArray(spec.rules) ? (spec.rules as Array<Record<string, unknown>>) : [];
  const allow = actionOf(policy) === 'ALLOW';
  const kept: Array<Record<string, unknown>> = [];
  for (const zr of ztunnelRules(spec)) {
    if ((allow && zr.hasL7) || emptyClause(zr)) continue;
    const rule = rules[zr.index];
    for (const clause of ['to', 'from'] as const) {
      const entries = Array.isArray(rule[clause]) ? (rule[clause] as Array<Record<string, unknown>>) : [];
      const matches = zr.clauses.find((c) => c.name === clause)?.matches ?? [];
      const inner = clause === 'from' ? 'source' : 'operation';
      rule[clause] = entries.flatMap((entry, i) => {
        const m = matches[i];
        if (!m || m.empty) return [];
        const fields = { ...(entry[inner] as Record<string, unknown>) };
        for (const path of [...m.l7, ...m.silent]) delete fields[path.slice(path.lastIndexOf('.') + 1)];
        return [{ [inner]: fields }];
      });
      if (!entries.length) delete rule[clause];
    }
    kept.push(rule);
  }
  spec.rules = kept;
  return { ...policy, spec };
}
