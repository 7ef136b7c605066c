import { toSarif } from '../sarif.js';
import type { CheckReport, ObjectRef } from './run.js';

export const FORMATS = ['text', 'json', 'sarif'] as const;
export type Format = (typeof FORMATS)[number];

export function formatReport(report: CheckReport, format: Format): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'sarif') return toSarif(report.findings.map((f) => ({ ...f, object: object(f) })));
  return formatText(report);
}

/**
 * One line per finding and per pod mode, in the `file:line: severity: ...` shape editors and CI
 * problem matchers understand, grouped by file and ordered by line; then a summary line.
 */
function formatText(report: CheckReport): string {
  const entries = [
    ...report.findings.map((f) => ({ ref: f, text: `${f.severity}: ${object(f)}: ${f.message} (at ${f.path || 'the object'})` })),
    ...report.modes.map((m) => ({ ref: m, text: `mode: ${object(m)}${m.path ? ` ${m.path}` : ''}: ${m.mode} (rule ${m.rule})` })),
  ].sort((a, b) => compare(a.ref.file, b.ref.file) || a.ref.line - b.ref.line);

  const lines: string[] = [];
  entries.forEach(({ ref, text }, i) => {
    if (i > 0 && entries[i - 1].ref.file !== ref.file) lines.push('');
    lines.push(`${ref.file}:${ref.line}: ${text}`);
  });
  if (lines.length) lines.push('');
  lines.push(summaryLine(report));
  return `${lines.join('\n')}\n`;
}

function object(ref: ObjectRef): string {
  const name = ref.name ?? '(unnamed)';
  return `${ref.kind} ${ref.namespace === null ? name : `${ref.namespace}/${name}`}`;
}

function summaryLine({ summary }: CheckReport): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts = [`${count(summary.documents, 'object')}: ${count(summary.errors, 'error')}, ${count(summary.warnings, 'warning')}`];
  if (summary.skipped) parts.push(`${summary.skipped} skipped (meshguard.io/enforcement=off)`);
  if (summary.ignored) parts.push(`${count(summary.ignored, 'document')} without apiVersion/kind ignored`);
  return parts.join('; ');
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
