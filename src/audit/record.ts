import { clientText, logText } from '../client-text.js';
import { isRecord } from '../kube.js';
import type { Outcome } from '../admission/outcome.js';
import type { AdmissionRequest } from '../admission/review.js';
import type { Webhook } from '../server/metrics.js';

/**
 * The audit record: one per admission decision, one JSON line (schema in the README). It names the
 * object and the decision, never its spec: no pod specs, env values or anything secret.
 */
export interface AuditRecord {
  audit: true;
  webhook: Webhook;
  uid: string;
  operation: string;
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name?: string;
  user?: string;
  dryRun: boolean;
  result: Outcome['result'];
  enforcement: Outcome['enforcement'];
  mode?: string;
  rule?: string;
  rules: string[];
  findings: Array<{ rule: string; severity: string; result: string; path: string; message: string }>;
  /** Findings left out: beyond the outcome's cap (FINDINGS_MAX), or past the line's size budget. */
  findingsOmitted?: number;
  /**
   * Set when the request's namespace was not in the cache and was fetched from the API server;
   * unless `fetched`, the request was admitted without a decision and `reason` says why.
   */
  namespaceLookup?: NamespaceLookupRecord;
  durationMs: number;
}

export interface NamespaceLookupRecord {
  result: 'fetched' | 'not-found' | 'failed';
  reason?: string;
}

/** An audit line stays within 16 KiB whatever the request; findings get what the other fields leave. */
export const AUDIT_LINE_MAX_BYTES = 16 * 1024;
const FINDINGS_MAX_BYTES = 12 * 1024;
/** Audit findings keep their message whole unless it is longer than this (finding() caps it at 4 KiB). */
const AUDIT_MESSAGE_MAX = 2048;

/** The outcome's findings, in order, while they fit FINDINGS_MAX_BYTES of JSON. */
function boundedFindings(outcome: Outcome): AuditRecord['findings'] {
  const out: AuditRecord['findings'] = [];
  let bytes = 0;
  for (const { rule, severity, result, path, message } of outcome.findings) {
    const entry = { rule, severity, result, path, message: clientText(message, AUDIT_MESSAGE_MAX) };
    bytes += Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (bytes > FINDINGS_MAX_BYTES) break;
    out.push(entry);
  }
  return out;
}

/** The fields of an audit record that come from the request: who asked for what. */
export type AuditSubject = Pick<AuditRecord, 'audit' | 'webhook' | 'uid' | 'operation' | 'group' | 'version' | 'kind' | 'namespace' | 'name' | 'user' | 'dryRun'>;

/**
 * The request's part of the audit record, bounded: what a validation worker sends the main thread
 * (src/server/validation-pool.ts) instead of the request, which may be megabytes.
 */
export function auditSubject(webhook: Webhook, req: AdmissionRequest): AuditSubject {
  const obj = req.object ?? req.oldObject;
  const meta = isRecord(obj?.metadata) ? obj.metadata : undefined;
  const name = [req.name, meta?.name, meta?.generateName].find((n) => typeof n === 'string' && n !== '');
  return {
    audit: true,
    webhook,
    // Client values: strings only, bounded and escaped (client-text.ts).
    uid: clientText(req.uid),
    operation: req.operation,
    group: clientText(req.kind.group),
    version: clientText(req.kind.version),
    kind: clientText(req.kind.kind),
    namespace: logText(req.namespace || undefined),
    name: logText(name),
    user: logText(req.userInfo?.username),
    dryRun: req.dryRun === true,
  };
}

export function auditRecord(subject: AuditSubject, outcome: Outcome, durationMs: number, namespaceLookup?: NamespaceLookupRecord): AuditRecord {
  const findings = boundedFindings(outcome);
  const omitted = (outcome.findingsOmitted ?? 0) + outcome.findings.length - findings.length;
  return {
    ...subject,
    result: outcome.result,
    enforcement: outcome.enforcement,
    mode: outcome.mode,
    rule: outcome.modeRule,
    rules: [...new Set(outcome.findings.map((f) => f.rule))],
    findings,
    ...(omitted ? { findingsOmitted: omitted } : {}),
    ...(namespaceLookup && { namespaceLookup }),
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
}
