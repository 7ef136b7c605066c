// The plan as one self-contained HTML page: no script, no external font, image or style sheet, so it
// opens offline and prints. Laid out for 1280 px and for A4/Letter (print styles below).
import { stringify } from 'yaml';
import { both, cores, gib, rate, usd, VERDICT_TITLES } from './format-text.js';
import type { NamespaceReport, PlanReport } from './report.js';
import { barChart, escapeHtml as h } from './svg.js';
import { VERDICTS, type Verdict } from './types.js';

const MODE_COLORS = { sidecar: '#c2410c', ambient: '#15803d', none: '#9ca3af' };
const VERDICT_COLORS: Record<Verdict, string> = {
  ready: '#15803d',
  'needs-waypoint': '#1d4ed8',
  'stays-sidecar': '#c2410c',
  'not-in-mesh': '#9ca3af',
  'already-ambient': '#0f766e',
};
const TOP_SAVINGS = 12;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2937;background:#f8fafc}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 12px;border-bottom:2px solid #e5e7eb;padding-bottom:4px}
h3{font-size:17px;margin:0 0 8px}
.muted{color:#6b7280}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e5e7eb;border-left:6px solid var(--c);border-radius:6px;padding:10px 16px;min-width:170px}
.card b{display:block;font-size:26px}
.charts{display:flex;flex-wrap:wrap;gap:24px}.chart{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 16px}
svg text{font:13px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1f2937}
svg .chart-title{font-weight:600;font-size:14px}svg .in-bar{fill:#fff;font-weight:600}svg .legend{font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #e5e7eb;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#f1f5f9}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 10px;border-radius:999px;color:#fff;background:var(--c);font-size:13px;font-weight:600}
section.ns{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:16px 20px;margin:16px 0}
ul.reasons{padding-left:20px}ul.reasons li{margin:4px 0}code{font:13px ui-monospace,"DejaVu Sans Mono",monospace;background:#f1f5f9;padding:0 3px;border-radius:3px}
pre{font:12.5px/1.45 ui-monospace,"DejaVu Sans Mono",monospace;background:#0f172a;color:#e2e8f0;padding:10px 14px;border-radius:6px;white-space:pre-wrap;word-break:break-word}
ol.steps>li{margin:10px 0}.note{background:#fffbeb;border:1px solid #fde68a;padding:8px 12px;border-radius:6px}
.warn{background:#fef2f2;border:1px solid #fecaca;padding:8px 12px;border-radius:6px}
@media print{body{background:#fff;font-size:11pt}main{max-width:none;padding:0}section.ns,.chart,.card{break-inside:avoid}
pre{background:#f1f5f9;color:#111;border:1px solid #d1d5db}h2{break-after:avoid}.chart svg{max-width:100%;height:auto}}
`;

/** The whole report as an HTML document. */
export function formatPlanHtml(report: PlanReport): string {
  const { verdicts, pods } = report.summary;
  const s = report.savings;
  const z = s.ztunnel;
  const body: string[] = [];
  body.push(`<h1>meshguard ambient migration plan</h1><p class="muted">Cluster read from ${h(report.source)}.</p>`);
  for (const e of report.readErrors)
    body.push(`<p class="warn">Could not read ${h(e.resource)} (${h(e.reason)}): ${h(e.message)}. This plan is partial.</p>`);

  body.push('<h2 id="summary">Summary</h2><div class="cards">');
  for (const v of VERDICTS)
    body.push(`<div class="card" style="--c:${VERDICT_COLORS[v]}" data-verdict="${v}"><b>${verdicts[v]}</b>${h(VERDICT_TITLES[v])}</div>`);
  body.push('</div><div class="charts">');
  body.push(chart(barChart({
    id: 'namespaces-by-verdict',
    title: 'Namespaces by verdict',
    bars: VERDICTS.map((v) => ({ label: VERDICT_TITLES[v], segments: [{ label: VERDICT_TITLES[v], value: verdicts[v], color: VERDICT_COLORS[v] }] })),
    width: 480,
  })));
  body.push(chart(barChart({
    id: 'pods-by-mode',
    title: 'Pods by mode, now and after the plan',
    bars: (['now', 'after'] as const).map((when) => ({
      label: when === 'now' ? 'Now' : 'After the plan',
      segments: (['sidecar', 'ambient', 'none'] as const).map((m) => ({ label: m === 'none' ? 'not in the mesh' : m, value: pods[when][m], color: MODE_COLORS[m] })),
    })),
    width: 560,
  })));
  body.push('</div>');

  body.push('<h2 id="savings">What it saves</h2>');
  body.push(`<p class="note">${h(report.basis)}</p>`);
  body.push('<div class="charts">');
  body.push(chart(barChart({
    id: 'cpu-requests',
    title: 'CPU requests (cores)',
    bars: [
      { label: 'Now', segments: [{ label: 'now', value: s.now.cpu, color: MODE_COLORS.sidecar }] },
      { label: 'After the plan', segments: [{ label: 'after', value: s.after.cpu, color: MODE_COLORS.ambient }] },
    ],
    format: (n) => n.toFixed(2),
    width: 520,
  })));
  body.push(chart(barChart({
    id: 'memory-requests',
    title: 'Memory requests (GiB)',
    bars: [
      { label: 'Now', segments: [{ label: 'now', value: s.now.memory / 2 ** 30, color: MODE_COLORS.sidecar }] },
      { label: 'After the plan', segments: [{ label: 'after', value: s.after.memory / 2 ** 30, color: MODE_COLORS.ambient }] },
    ],
    format: (n) => n.toFixed(2),
    width: 520,
  })));
  body.push('</div>');
  body.push(`<table data-table="savings"><tr><th></th><th class="num">CPU</th><th class="num">Memory</th><th class="num">Per month</th></tr>
<tr><td>Requests now</td><td class="num">${cores(s.now)}</td><td class="num">${gib(s.now)}</td><td class="num">${usd(s.nowMonthly)}</td></tr>
<tr><td>Requests after the plan</td><td class="num">${cores(s.after)}</td><td class="num">${gib(s.after)}</td><td class="num">${usd(s.afterMonthly)}</td></tr>
<tr><th>Saved</th><th class="num" data-saved-cpu="${s.saved.cpu}">${cores(s.saved)}</th><th class="num">${gib(s.saved)}</th><th class="num" data-saved-monthly="${s.savedMonthly}">${usd(s.savedMonthly)}</th></tr></table>`);
  body.push(`<p class="muted">Prices: ${rate(s.prices.cpuPerCoreHour)} per core-hour and ${rate(s.prices.memoryPerGiBHour)} per GiB-hour, 730 hours a month. ztunnel: ${h(both(z.perNode))} per node from ${h(z.requestsFrom)}, on ${z.nodes} node${z.nodes === 1 ? '' : 's'} (from ${h(z.nodesFrom)})${z.present ? ', already running, so in both columns' : ', a new cost after the plan'}. Each new waypoint counts at Istio's default requests; waypoints that exist already are in neither column.</p>`);

  const withSavings = report.namespaces.filter((n) => n.savings && n.savings.saved.cpu > 0).sort((a, b) => b.savings!.saved.cpu - a.savings!.saved.cpu);
  if (withSavings.length)
    body.push(chart(barChart({
      id: 'savings-by-namespace',
      title: withSavings.length > TOP_SAVINGS ? `CPU saved by namespace (the ${TOP_SAVINGS} largest of ${withSavings.length})` : 'CPU saved by namespace (cores)',
      bars: withSavings.slice(0, TOP_SAVINGS).map((n) => ({ label: n.namespace, segments: [{ label: 'saved', value: n.savings!.saved.cpu, color: MODE_COLORS.ambient }] })),
      format: (n) => n.toFixed(2),
      width: 1100,
    })));

  const acting = report.namespaces.filter((n) => n.verdict !== 'not-in-mesh' && n.verdict !== 'already-ambient');
  const order: Verdict[] = ['needs-waypoint', 'stays-sidecar', 'ready'];
  body.push('<h2 id="namespaces">Namespaces</h2>');
  for (const v of order) for (const ns of acting.filter((n) => n.verdict === v)) body.push(namespaceSection(ns));
  const rest = report.namespaces.filter((n) => !acting.includes(n));
  if (rest.length) {
    body.push('<h3>Nothing to do</h3><table data-table="nothing-to-do"><tr><th>Namespace</th><th>Verdict</th><th class="num">Ambient pods</th><th class="num">Pods not in the mesh</th></tr>');
    for (const ns of rest)
      body.push(`<tr id="ns-${h(ns.namespace)}"><td>${h(ns.namespace)}</td><td>${badge(ns.verdict)}</td><td class="num">${ns.pods.now.ambient}</td><td class="num">${ns.pods.now.none}</td></tr>`);
    body.push('</table>');
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>meshguard ambient migration plan</title><style>${STYLE}</style></head>
<body><main>
${body.join('\n')}
</main></body></html>
`;
}

const chart = (svg: string) => `<div class="chart">${svg}</div>`;
const badge = (v: Verdict) => `<span class="badge" style="--c:${VERDICT_COLORS[v]}">${h(VERDICT_TITLES[v])}</span>`;

function namespaceSection(ns: NamespaceReport): string {
  const out: string[] = [`<section class="ns" id="ns-${h(ns.namespace)}" data-namespace="${h(ns.namespace)}" data-verdict="${ns.verdict}">`];
  out.push(`<h3>${h(ns.namespace)} ${badge(ns.verdict)}</h3>`);
  const p = ns.pods;
  out.push(`<p>Pods with a sidecar: <b data-sidecar-now="${p.now.sidecar}">${p.now.sidecar}</b> now, <b data-sidecar-after="${p.after.sidecar}">${p.after.sidecar}</b> after; ambient: ${p.now.ambient} now, ${p.after.ambient} after.` +
    (ns.savings ? ` Saves <b data-ns-saved-cpu="${ns.savings.saved.cpu}">${h(both(ns.savings.saved))}</b> (${usd(ns.savings.savedMonthly)} a month).` : '') + '</p>');
  if (ns.reasons.length) {
    out.push('<ul class="reasons">');
    for (const r of ns.reasons)
      out.push(`<li data-reason="${r.id}"><code>${h(r.id)}</code> <b>${h(`${r.object.kind} ${r.object.name}`)}</b>${r.path ? ` <code>${h(r.path)}</code>` : ''}: ${h(r.message)}</li>`);
    out.push('</ul>');
  }
  if (ns.steps.length) {
    out.push('<ol class="steps">');
    for (const step of ns.steps) {
      out.push(`<li><b>${h(step.title)}.</b> ${h(step.why)}`);
      const text = [...step.commands, ...step.objects.map((o) => `---\n${stringify(o).trimEnd()}`)].join('\n');
      out.push(`<pre>${h(text)}</pre></li>`);
    }
    out.push('</ol>');
  }
  out.push('</section>');
  return out.join('\n');
}
