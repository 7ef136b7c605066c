// Inline SVG charts for the HTML report, drawn here so the report needs no script, font or network.

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Segment {
  label: string;
  value: number;
  color: string;
}

export interface Bar {
  label: string;
  segments: Segment[];
}

export interface BarChart {
  /** A stable id for the chart (`data-chart`), e.g. `pods-by-mode`. */
  id: string;
  title: string;
  bars: Bar[];
  /** How a value is printed (default: an integer). */
  format?: (n: number) => string;
  width?: number;
}

const ROW = 34;
const LABEL_WIDTH = 170;
const VALUE_WIDTH = 110;

/**
 * Horizontal bars, one per row, each made of stacked segments, all on one scale; every segment wide
 * enough carries its value, and each bar ends with its total. A legend names the segments.
 */
export function barChart(chart: BarChart): string {
  const width = chart.width ?? 640;
  const format = chart.format ?? ((n: number) => String(Math.round(n)));
  const plot = width - LABEL_WIDTH - VALUE_WIDTH;
  const totals = chart.bars.map((b) => b.segments.reduce((s, x) => s + x.value, 0));
  const max = Math.max(...totals, 0) || 1;
  // A legend (and values inside the bars) only where bars are stacked; a single segment is named by its bar.
  const stacked = chart.bars.some((b) => b.segments.length > 1);
  const legend = stacked ? [...new Map(chart.bars.flatMap((b) => b.segments).map((s) => [s.label, s.color])).entries()] : [];
  const legendHeight = legend.length ? 26 : 0;
  const height = 30 + legendHeight + chart.bars.length * ROW + 6;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" data-chart="${escapeHtml(chart.id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" aria-label="${escapeHtml(chart.title)}">`,
    `<title>${escapeHtml(chart.title)}</title>`,
    `<text x="0" y="18" class="chart-title">${escapeHtml(chart.title)}</text>`,
  ];
  let x = 0;
  for (const [label, color] of legend) {
    out.push(`<rect x="${x}" y="30" width="12" height="12" fill="${color}"/><text x="${x + 17}" y="40" class="legend">${escapeHtml(label)}</text>`);
    x += 30 + label.length * 7.5;
  }
  chart.bars.forEach((bar, i) => {
    const y = 30 + legendHeight + i * ROW;
    out.push(`<g data-bar="${escapeHtml(bar.label)}" data-total="${totals[i]}">`);
    out.push(`<text x="${LABEL_WIDTH - 8}" y="${y + 19}" text-anchor="end" class="bar-label">${escapeHtml(bar.label)}</text>`);
    let left = LABEL_WIDTH;
    for (const s of bar.segments) {
      const w = (s.value / max) * plot;
      if (w <= 0) continue;
      out.push(`<rect x="${left.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 10}" fill="${s.color}" data-segment="${escapeHtml(s.label)}" data-value="${s.value}"><title>${escapeHtml(`${s.label}: ${format(s.value)}`)}</title></rect>`);
      const text = format(s.value);
      if (stacked && w > text.length * 7 + 8) out.push(`<text x="${(left + w / 2).toFixed(1)}" y="${y + 20}" text-anchor="middle" class="in-bar">${escapeHtml(text)}</text>`);
      left += w;
    }
    out.push(`<text x="${(left + 6).toFixed(1)}" y="${y + 20}" class="bar-total">${escapeHtml(format(totals[i]))}</text>`);
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}
