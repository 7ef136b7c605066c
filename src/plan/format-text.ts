import { stringify } from 'yaml';
import type { NamespaceReport, PlanReport } from './report.js';
import type { Requests } from './savings.js';
import { VERDICTS, type Verdict } from './types.js';

export const VERDICT_TITLES: Record<Verdict, string> = {
  ready: 'ready',
  'needs-waypoint': 'needs a waypoint',
  'stays-sidecar': 'stays on sidecars',
  'not-in-mesh': 'not in the mesh',
  'already-ambient': 'already ambient',
};

export const cores = (r: Requests) => `${r.cpu.toFixed(2)} cores`;
export const gib = (r: Requests) => `${(r.memory / 2 ** 30).toFixed(2)} GiB`;
export const usd = (n: number) => `$${n.toFixed(2)}`;
/** A unit price, which can be a fraction of a cent. */
export const rate = (n: number) => `$${Number(n.toPrecision(6))}`;
export const both = (r: Requests) => `${cores(r)}, ${gib(r)}`;

/** The plan for a person at a terminal: the summary and savings, then each namespace that has something to say. */
export function formatPlanText(report: PlanReport): string {
  const out: string[] = [];
  const { verdicts, pods } = report.summary;
  out.push(`meshguard plan: ${report.source}`);
  out.push(`namespaces: ${VERDICTS.map((v) => `${verdicts[v]} ${VERDICT_TITLES[v]}`).join(', ')}`);
  out.push(`pods now:   ${pods.now.sidecar} sidecar, ${pods.now.ambient} ambient, ${pods.now.none} not in the mesh`);
  out.push(`pods after: ${pods.after.sidecar} sidecar, ${pods.after.ambient} ambient, ${pods.after.none} not in the mesh`);
  const s = report.savings;
  const z = s.ztunnel;
  out.push('');
  out.push(`requests now:   ${both(s.now)} (${usd(s.nowMonthly)}/month)`);
  out.push(`requests after: ${both(s.after)} (${usd(s.afterMonthly)}/month)`);
  out.push(`saved:          ${both(s.saved)} (${usd(s.savedMonthly)}/month at ${rate(s.prices.cpuPerCoreHour)}/core-hour, ${rate(s.prices.memoryPerGiBHour)}/GiB-hour, 730 hours a month)`);
  out.push(`ztunnel: ${both(z.perNode)} per node from ${z.requestsFrom}, on ${z.nodes} node${z.nodes === 1 ? '' : 's'} (from ${z.nodesFrom})${z.present ? ', already running' : ', to be installed'}`);
  out.push(report.basis);
  for (const e of report.readErrors) out.push(`warning: could not read ${e.resource} (${e.reason}): ${e.message}; the plan is partial`);
  for (const ns of report.namespaces) if (ns.verdict !== 'not-in-mesh' && ns.verdict !== 'already-ambient') out.push('', ...namespaceText(ns));
  return `${out.join('\n')}\n`;
}

function namespaceText(ns: NamespaceReport): string[] {
  const out = [`== namespace ${ns.namespace}: ${VERDICT_TITLES[ns.verdict]}`];
  const p = ns.pods;
  out.push(`pods: ${p.now.sidecar} sidecar -> ${p.after.sidecar} sidecar, ${p.now.ambient} ambient -> ${p.after.ambient} ambient`);
  if (ns.savings) out.push(`saves ${both(ns.savings.saved)} (${usd(ns.savings.savedMonthly)}/month); sidecar requests from: ${sources(ns.savings.sources)}`);
  for (const r of ns.reasons) out.push(`- [${r.id}] ${r.object.kind} ${r.object.namespace}/${r.object.name}${r.path ? ` (${r.path})` : ''}: ${r.message}`);
  ns.steps.forEach((step, i) => {
    out.push(`step ${i + 1}: ${step.title}. ${step.why}`);
    for (const c of step.commands) out.push(`    ${c}`);
    for (const o of step.objects) out.push(...`---\n${stringify(o)}`.trimEnd().split('\n').map((l) => `    ${l}`));
  });
  return out;
}

function sources(s: Record<string, number>): string {
  return Object.entries(s).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}
