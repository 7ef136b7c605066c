import type { Operation } from 'fast-json-patch';
import type { Finding } from '../findings.js';
import type { Enforcement, Mode } from '../policy/types.js';

export type AdmissionResult = 'allowed' | 'patched' | 'warned' | 'denied';
/** What happened to one finding: it denied the request, became a warning, or was only logged. */
export type FindingResult = 'denied' | 'warned' | 'logged';

/** The decision core's answer to one AdmissionRequest; adapters turn it into a response and an audit line. */
export interface Outcome {
  allowed: boolean;
  result: AdmissionResult;
  patch?: Operation[];
  warnings: string[];
  /** Set when denied: the message kube-apiserver shows after `denied the request: `. */
  denial?: string;
  auditAnnotations?: Record<string, string>;
  /** `none` where meshguard does not look at the object at all. */
  enforcement: Enforcement | 'none';
  mode?: Mode;
  modeRule?: string;
  findings: Array<Finding & { result: FindingResult }>;
}

// Kubernetes truncates admission warnings: keep each within 120 characters, all within 4 KiB
// (k8s.io/apiserver pkg/warning: truncateLength 120 per warning, 4096 in total).
const WARNING_MAX = 120;
const WARNINGS_TOTAL_MAX = 4096;

export function limitWarnings(messages: string[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (const raw of messages) {
    const oneLine = raw.replace(/\s+/g, ' ').trim();
    const w = oneLine.length > WARNING_MAX ? `${oneLine.slice(0, WARNING_MAX - 3)}...` : oneLine;
    if (total + w.length > WARNINGS_TOTAL_MAX) break;
    out.push(w);
    total += w.length;
  }
  return out;
}

/**
 * Combines findings with the namespace's enforcement (README "Enforcement"): under `enforce` errors
 * deny and warnings warn; under `warn` both warn; under `audit` both are only logged.
 */
export function enforce(findings: Finding[], enforcement: Enforcement): Pick<Outcome, 'allowed' | 'warnings' | 'denial' | 'findings'> {
  const resultOf = (f: Finding): FindingResult =>
    enforcement === 'audit' || enforcement === 'off' ? 'logged' : enforcement === 'enforce' && f.severity === 'error' ? 'denied' : 'warned';
  const judged = findings.map((f) => ({ ...f, result: resultOf(f) }));
  const errors = judged.filter((f) => f.result === 'denied');
  return {
    allowed: errors.length === 0,
    warnings: limitWarnings(judged.filter((f) => f.result === 'warned').map((f) => f.message)),
    denial: errors.length ? errors.map((f) => `${f.message} (at ${f.path})`).join('; ') : undefined,
    findings: judged,
  };
}
