import type { Operation } from 'fast-json-patch';
import { FINDINGS_MAX, type Finding } from '../findings.js';
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
  /** At most FINDINGS_MAX, those that deny first; `findingsOmitted` counts the rest. */
  findings: Array<Finding & { result: FindingResult }>;
  findingsOmitted?: number;
}

/** Admitted untouched, no rule run: what a request gets when its namespace could not be read. */
export const UNDECIDED: Outcome = { allowed: true, result: 'allowed', warnings: [], enforcement: 'none', findings: [] };

// An object with 60,000 bad `when` keys gets the first FINDINGS_MAX findings and a count, not a 15 MB
// denial; `meshguard check` lists them all.
export { FINDINGS_MAX };
/** The denial message's length in characters (at most 3 UTF-8 bytes each), well inside a 64 KiB response. */
export const DENIAL_MAX_CHARS = 8000;

const ORDER: Record<FindingResult, number> = { denied: 0, warned: 1, logged: 2 };

// kube-apiserver passes admission warnings through its warning recorder (k8s.io/apiserver
// pkg/server/filters/warning.go, recorder.AddWarning): once the warnings of one request pass
// truncateAtTotalRunes (4 * 1024) in total it cuts every warning to truncateItemRunes (256) and drops
// the ones that come after. A warning of at most 256 runes is therefore never cut, and kubectl prints
// it whole; meshguard keeps its own warnings within 4096 runes so it never triggers the cutting.
export const WARNING_MAX_RUNES = 256;
export const WARNINGS_TOTAL_MAX_RUNES = 4096;

const runes = (s: string) => [...s].length;

/** The first `n` runes of `s`, cut back to a word boundary when one is near, with an ellipsis. */
function clip(s: string, n: number): string {
  const chars = [...s];
  if (chars.length <= n) return s;
  const cut = chars.slice(0, n - 1).join('');
  const space = cut.lastIndexOf(' ');
  return `${(space > cut.length - 30 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, '')}…`;
}

/**
 * A finding as one warning kubectl shows in full: `[rule-id]`, what is wrong (the message's first
 * sentence) and how to fix it (its last sentence, or what follows its last `; `), within 256 runes.
 * A message that fits is kept whole; the audit line always has the full text.
 */
export function warningText(message: string): string {
  const text = message.replace(/\s+/g, ' ').trim();
  if (runes(text) <= WARNING_MAX_RUNES) return text;
  const rule = /^\[[^\]]+\] /.exec(text)?.[0] ?? '';
  const body = text.slice(rule.length);
  const room = WARNING_MAX_RUNES - runes(rule);
  const sentences = body.split(/(?<=\.) (?=[A-Z])/);
  const semicolon = body.lastIndexOf('; ');
  const [what, separator, fix] =
    sentences.length > 1 ? [sentences[0], ' ', sentences.at(-1)!] : semicolon > 0 ? [body.slice(0, semicolon), '; ', body.slice(semicolon + 2)] : [body, '', ''];
  if (!fix) return rule + clip(what, room);
  // The fix gets the room it needs, as long as at least 80 runes are left to say what is wrong.
  const shortFix = clip(fix, Math.min(runes(fix), room - runes(separator) - 80));
  return `${rule}${clip(what, room - runes(separator) - runes(shortFix))}${separator}${shortFix}`;
}

/** Warnings for the response: each within 256 runes, all within 4096; what does not fit is counted. */
export function limitWarnings(messages: string[]): string[] {
  const out: string[] = [];
  const moreRoom = 100;
  let total = 0;
  for (const [i, message] of messages.entries()) {
    const w = warningText(message);
    const last = i === messages.length - 1;
    if (total + runes(w) + (last ? 0 : moreRoom) > WARNINGS_TOTAL_MAX_RUNES) {
      const left = messages.length - i;
      out.push(`[meshguard] ${left} more finding${left === 1 ? '' : 's'} not shown; meshguard's audit log has them all.`);
      break;
    }
    out.push(w);
    total += runes(w);
  }
  return out;
}

/**
 * Combines findings with the namespace's enforcement (README "Enforcement"): under `enforce` errors
 * deny and warnings warn; under `warn` both warn; under `audit` both are only logged.
 */
export function enforce(findings: Finding[], enforcement: Enforcement): Pick<Outcome, 'allowed' | 'warnings' | 'denial' | 'findings' | 'findingsOmitted'> {
  const resultOf = (f: Finding): FindingResult =>
    enforcement === 'audit' || enforcement === 'off' ? 'logged' : enforcement === 'enforce' && f.severity === 'error' ? 'denied' : 'warned';
  // Stable sort: what denies first, in the rules' order.
  const judged = findings.map((f) => ({ ...f, result: resultOf(f) })).sort((a, b) => ORDER[a.result] - ORDER[b.result]);
  const errors = judged.filter((f) => f.result === 'denied');
  const kept = judged.slice(0, FINDINGS_MAX);
  return {
    allowed: errors.length === 0,
    warnings: limitWarnings(judged.filter((f) => f.result === 'warned').map((f) => f.message)),
    denial: errors.length ? denialText(errors) : undefined,
    findings: kept,
    ...(judged.length > kept.length ? { findingsOmitted: judged.length - kept.length } : {}),
  };
}

/** The denying findings as one message: the first FINDINGS_MAX, within DENIAL_MAX_CHARS, and how many more. */
function denialText(errors: Finding[]): string {
  const shown = errors.slice(0, FINDINGS_MAX);
  let text = '';
  let count = 0;
  for (const f of shown) {
    const part = `${count ? '; ' : ''}${f.message} (at ${f.path})`;
    if (text.length + part.length > DENIAL_MAX_CHARS) {
      // A single finding longer than the whole budget is cut rather than left out.
      if (count === 0) {
        text = clip(part, DENIAL_MAX_CHARS);
        count = 1;
      }
      break;
    }
    text += part;
    count++;
  }
  const more = errors.length - count;
  return more ? `${text}; and ${more} more finding${more === 1 ? '' : 's'} (\`meshguard check\` on the manifest lists them all)` : text;
}
