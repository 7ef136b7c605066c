import { toSarif } from '../sarif.js';
import type { AuditFinding, AuditReport, ModeCounts } from './run.js';

export const AUDIT_FORMATS = ['text', 'json', 'sarif'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

/** Pod names shown in text per drifted owner; JSON and SARIF carry them all. */
const PODS_SHOWN = 5;

export function formatAudit(report: AuditReport, format: AuditFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'sarif') {
    return toSarif(
      report.findings.map((f) => ({ rule: f.rule, severity: f.severity, message: withPods(f), file: f.file, line: f.line, object: objectName(f) })),
      { complete: report.complete, notifications: report.readErrors.map((e) => `cannot read ${e.resource}: ${e.reason}: ${e.message}`) },
    );
  }
  return formatText(report);
}

/** Findings grouped by namespace (cluster-scoped objects first), then read errors, then a summary. */
function formatText(report: AuditReport): string {
  const lines: string[] = [];
  let group: string | undefined;
  for (const f of report.findings) {
    const heading = f.namespace === null ? 'cluster-scoped objects' : `namespace ${f.namespace}`;
    if (heading !== group) {
      if (group !== undefined) lines.push('');
      lines.push(`${heading}:`);
      group = heading;
    }
    const where = f.file === undefined ? '' : ` (${f.file}:${f.line})`;
    lines.push(`  ${f.severity}: ${f.kind} ${f.name}${podList(f)}: ${f.message} (at ${f.path || 'the object'})${where}`);
  }
  if (report.readErrors.length) {
    if (lines.length) lines.push('');
    for (const e of report.readErrors) lines.push(`cannot read ${e.resource}: ${e.reason}: ${e.message}`);
    lines.push(`PARTIAL: ${report.readErrors.length} kind${report.readErrors.length === 1 ? '' : 's'} could not be read; the findings cover the rest.`);
  }
  if (lines.length) lines.push('');
  lines.push(summaryLine(report));
  return `${lines.join('\n')}\n`;
}

function podList(f: AuditFinding): string {
  if (!f.pods) return '';
  const shown = f.pods.names.slice(0, PODS_SHOWN).join(', ');
  const more = f.pods.count > PODS_SHOWN ? `, and ${f.pods.count - PODS_SHOWN} more` : '';
  return ` (${count(f.pods.count, 'pod')}: ${shown}${more})`;
}

/** SARIF has no field for the pods, so the message names them. */
function withPods(f: AuditFinding): string {
  return f.pods ? `${f.message} Pods (${f.pods.count}): ${f.pods.names.join(', ')}.` : f.message;
}

function objectName(f: AuditFinding): string {
  return f.namespace === null ? `${f.kind} ${f.name}` : `${f.kind} ${f.namespace}/${f.name}`;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

const modes = (m: ModeCounts) => `${m.ambient} ambient, ${m.sidecar} sidecar, ${m.none} none`;

function summaryLine({ summary }: AuditReport): string {
  const objects = Object.values(summary.objects).reduce((a, b) => a + b, 0);
  const pods = summary.objects.Pod ?? 0;
  const parts = [`${count(objects, 'object')}: ${count(summary.errors, 'error')}, ${count(summary.warnings, 'warning')}`];
  if (summary.skipped) parts.push(`${summary.skipped} skipped (meshguard.io/enforcement=off)`);
  if (pods) parts.push(`pods running: ${modes(summary.pods.actual)}; decided now: ${modes(summary.pods.decided)}`);
  return parts.join('; ');
}
