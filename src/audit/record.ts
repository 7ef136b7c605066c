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
  durationMs: number;
}

export function auditRecord(webhook: Webhook, req: AdmissionRequest, outcome: Outcome, durationMs: number): AuditRecord {
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
    result: outcome.result,
    enforcement: outcome.enforcement,
    mode: outcome.mode,
    rule: outcome.modeRule,
    rules: [...new Set(outcome.findings.map((f) => f.rule))],
    findings: outcome.findings.map(({ rule, severity, result, path, message }) => ({ rule, severity, result, path, message })),
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
}
