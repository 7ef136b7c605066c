// The HTML plan in a real browser: headless Chromium loads the file at 1280 px, with no console
// errors; every namespace section and chart is there with the report's numbers; it prints.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlan } from '../../src/plan/command.js';
import type { PlanReport } from '../../src/plan/report.js';
import { openPage, type Page } from '../helpers/chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'meshguard-plan-html-'));
const quiet = { stdout: { write: () => true }, stderr: { write: (t: string) => process.stderr.write(t) } };

async function plan(format: 'html' | 'json', args: string[]): Promise<string> {
  const out = join(dir, `plan-${format}-${Math.random().toString(36).slice(2)}.${format}`);
  expect(await runPlan([...args, '--format', format, '--out', out], quiet)).toBe(0);
  return out;
}

interface Seen {
  scrollWidth: number;
  sections: Array<{ ns: string; verdict: string; reasons: string[]; sidecarNow: string; sidecarAfter: string }>;
  nothingToDo: string[];
  cards: Record<string, string>;
  charts: Record<string, { width: number; right: number; bars: Array<{ label: string; total: string; segments: Record<string, string> }> }>;
  savedCpu: string;
  scripts: number;
  images: number;
}

const SEE = `(() => {
  const q = (s, root = document) => [...root.querySelectorAll(s)];
  const charts = {};
  for (const svg of q('svg[data-chart]')) {
    const box = svg.getBoundingClientRect();
    charts[svg.dataset.chart] = { width: box.width, right: box.right, bars: q('g[data-bar]', svg).map((g) => ({
      label: g.dataset.bar, total: g.dataset.total,
      segments: Object.fromEntries(q('rect[data-segment]', g).map((r) => [r.dataset.segment, r.dataset.value])) })) };
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    sections: q('section[data-namespace]').map((s) => ({ ns: s.dataset.namespace, verdict: s.dataset.verdict,
      reasons: q('[data-reason]', s).map((r) => r.dataset.reason),
      sidecarNow: s.querySelector('[data-sidecar-now]').textContent, sidecarAfter: s.querySelector('[data-sidecar-after]').textContent })),
    nothingToDo: q('table[data-table="nothing-to-do"] tr[id]').map((r) => r.id),
    cards: Object.fromEntries(q('.card[data-verdict]').map((c) => [c.dataset.verdict, c.querySelector('b').textContent])),
    charts,
    savedCpu: document.querySelector('[data-saved-cpu]').textContent,
    scripts: q('script').length,
    images: q('img').length,
  };
})()`;

describe('meshguard plan --format html in headless Chromium', () => {
  let page: Page;
  let report: PlanReport;
  let html: string;

  beforeAll(async () => {
    const args = ['--cluster-state', 'examples/plan'];
    report = JSON.parse(readFileSync(await plan('json', args), 'utf8')) as PlanReport;
    html = await plan('html', args);
    page = await openPage(`file://${html}`, 1280);
  }, 60_000);
  afterAll(async () => page?.close());

  it('loads with no console errors and fits 1280 px', async () => {
    const seen = await page.evaluate<Seen>(SEE);
    expect(page.errors).toEqual([]);
    expect(seen.scrollWidth).toBeLessThanOrEqual(1280);
    expect(seen.scripts).toBe(0);
    expect(readFileSync(html, 'utf8')).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('has a section per namespace to act on, with its verdict, reasons and pod counts', async () => {
    const seen = await page.evaluate<Seen>(SEE);
    const acting = report.namespaces.filter((n) => !['not-in-mesh', 'already-ambient'].includes(n.verdict));
    expect(seen.sections.map((s) => s.ns).sort()).toEqual(acting.map((n) => n.namespace).sort());
    for (const ns of acting) {
      const s = seen.sections.find((x) => x.ns === ns.namespace)!;
      expect(s.verdict).toBe(ns.verdict);
      expect(s.reasons).toEqual(ns.reasons.map((r) => r.id));
      expect([s.sidecarNow, s.sidecarAfter]).toEqual([String(ns.pods.now.sidecar), String(ns.pods.after.sidecar)]);
    }
    expect(seen.nothingToDo.sort()).toEqual(['ns-edge', 'ns-tools']);
    expect(seen.cards).toEqual({ ready: '1', 'needs-waypoint': '1', 'stays-sidecar': '1', 'not-in-mesh': '1', 'already-ambient': '1' });
  });

  it('draws the charts with the report numbers, inside the page', async () => {
    const seen = await page.evaluate<Seen>(SEE);
    expect(Object.keys(seen.charts).sort()).toEqual(['cpu-requests', 'memory-requests', 'namespaces-by-verdict', 'pods-by-mode', 'savings-by-namespace']);
    for (const c of Object.values(seen.charts)) {
      expect(c.width).toBeGreaterThan(200);
      expect(c.right).toBeLessThanOrEqual(1280);
    }
    const { now, after } = report.summary.pods;
    expect(seen.charts['pods-by-mode'].bars).toEqual([
      { label: 'Now', total: String(now.sidecar + now.ambient + now.none), segments: { sidecar: String(now.sidecar), ambient: String(now.ambient), 'not in the mesh': String(now.none) } },
      { label: 'After the plan', total: String(after.sidecar + after.ambient + after.none), segments: { sidecar: String(after.sidecar), ambient: String(after.ambient), 'not in the mesh': String(after.none) } },
    ]);
    expect(seen.charts['cpu-requests'].bars.map((b) => Number(b.total))).toEqual([report.savings.now.cpu, report.savings.after.cpu]);
    expect(seen.charts['savings-by-namespace'].bars.map((b) => [b.label, Number(b.total)])).toEqual([
      ['shop', report.namespaces.find((n) => n.namespace === 'shop')!.savings!.saved.cpu],
      ['catalog', report.namespaces.find((n) => n.namespace === 'catalog')!.savings!.saved.cpu],
    ]);
    expect(seen.savedCpu).toBe(`${report.savings.saved.cpu.toFixed(2)} cores`);
  });

  it('saves a screenshot and prints to PDF', async () => {
    const png = await page.screenshot();
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    writeFileSync(join(dir, 'plan-1280.png'), png);
    const pdf = await page.pdf();
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    writeFileSync(join(dir, 'plan.pdf'), pdf);
    process.stdout.write(`plan report screenshot: ${join(dir, 'plan-1280.png')}\n`);
  });

  it('escapes what the cluster says: a hostile name renders as text, not markup', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const file = join(dir, 'evil.yaml');
    writeFileSync(file, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "${evil}"\n  labels: {istio-injection: enabled}\n`);
    const evilPage = await openPage(`file://${await plan('html', ['--cluster-state', file])}`, 1280);
    try {
      const seen = await evilPage.evaluate<Seen>(SEE);
      expect(seen.images).toBe(0);
      expect(seen.sections.map((s) => s.ns)).toEqual([evil]);
      expect(evilPage.errors).toEqual([]);
    } finally {
      await evilPage.close();
    }
  }, 60_000);
});
