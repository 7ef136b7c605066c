import type { AdmissionRequest } from '../admission/review.js';
import { enforce, type Outcome } from '../admission/outcome.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { isRecord } from '../kube.js';
import { enforcementFor } from '../policy/namespace-config.js';
import type { Enforcement, Policy } from '../policy/types.js';
import type { Finding } from '../findings.js';
import { validateDeprecations } from './deprecations.js';
import { validateObject, type ValidationInput } from './index.js';
import type { RegexVerdicts } from './regex.js';

/** Rules about what an object already carried: an UPDATE must not be blocked by what it did not add. */
const RATCHETED = new Set(['deprecated-field', 'removed-annotation', 'deprecated-api-version', 'removed-api-version']);

/** The validating webhook's decision: findings for the object, judged by its namespace's enforcement. */
export function admitValidation(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy, regexVerdicts?: RegexVerdicts): Outcome {
  const enforcement = validationEnforcement(req, snapshot, policy);
  if (enforcement === 'off') return { allowed: true, result: 'allowed', warnings: [], enforcement, findings: [] };
  const input = validationInput(req);
  return judge(ratchet(input, validateObject(input, snapshot, policy, regexVerdicts), policy), enforcement);
}

/** What the validators see of an AdmissionRequest. */
export function validationInput(req: AdmissionRequest): ValidationInput {
  return {
    operation: req.operation,
    group: req.kind.group,
    version: clientVersion(req),
    kind: req.kind.kind,
    namespace: req.namespace || undefined,
    name: req.name || undefined,
    object: isRecord(req.object) ? req.object : undefined,
    oldObject: isRecord(req.oldObject) ? req.oldObject : undefined,
  };
}

function judge(findings: Finding[], enforcement: Enforcement): Outcome {
  const judged = enforce(findings, enforcement);
  const result = !judged.allowed ? 'denied' : judged.warnings.length ? 'warned' : 'allowed';
  return { ...judged, result, enforcement };
}

/** The enforcement that applies to a request's object (its namespace's, or a Namespace's own). */
export function validationEnforcement(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy): Enforcement {
  const object = isRecord(req.object) ? req.object : isRecord(req.oldObject) ? req.oldObject : undefined;
  return enforcementFor({ group: req.kind.group, kind: req.kind.kind, namespace: req.namespace, object }, snapshot, policy);
}

/**
 * The version the client used: with matchPolicy Equivalent, kube-apiserver may convert the object to
 * the version the webhook registered for, and `requestKind` keeps the one that was asked for.
 */
function clientVersion(req: AdmissionRequest): string {
  const asked = isRecord(req.requestKind) ? req.requestKind : undefined;
  return asked && asked.group === req.kind.group && asked.kind === req.kind.kind && typeof asked.version === 'string'
    ? asked.version
    : req.kind.version;
}

/**
 * On UPDATE, a deprecation the old object already had is reported as a warning instead of an error,
 * so existing objects can still be relabelled or fixed step by step, while new uses are denied.
 */
function ratchet(input: ValidationInput, findings: Finding[], policy: Policy): Finding[] {
  if (input.operation !== 'UPDATE' || !input.oldObject || !findings.some((f) => RATCHETED.has(f.rule) && f.severity === 'error')) return findings;
  // Only the deprecation catalog makes ratcheted findings; the other rules (regexes among them) need not run again.
  const before = validateDeprecations({ ...input, operation: 'CREATE', object: input.oldObject, oldObject: undefined }, { policy });
  const had = new Set(before.filter((f) => RATCHETED.has(f.rule)).map((f) => `${f.rule} ${f.path}`));
  return findings.map((f) => (f.severity === 'error' && had.has(`${f.rule} ${f.path}`) ? { ...f, severity: 'warning' as const } : f));
}
