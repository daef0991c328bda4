/**
 * Line charts as SVG text (loss curves, length-extrapolation curves): no DOM, no dependencies, so it
 * runs in Node and browsers; `attn plot` rasterises the SVG to PNG with resvg. Axes get "nice"
 * ticks (1, 2, 5 x 10^k), an optional log-scale y axis, one colour per series and a legend.
 */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. validation next to training). */
  dashed?: boolean;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** Clip the y range (e.g. to ignore an initial spike). */
  yMin?: number;
  yMax?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick values covering [lo, hi] at a 1/2/5 x 10^k step, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** An SVG document plotting the series. */
export function lineChartSvg(series: readonly Series[], o: ChartOptions = {}): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const m = { left: 64, right: 16 + (series.length > 1 ? 150 : 0), top: o.title ? 36 : 16, bottom: 48 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0));
  if (pts.length === 0) throw new Error('lineChartSvg: no finite points to plot');
  const ty = (y: number): number => (o.logY ? Math.log10(y) : y);
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = o.yMin ?? Math.min(...pts.map((p) => p[1]));
  let y1 = o.yMax ?? Math.max(...pts.map((p) => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + (Math.abs(y0) || 1) * 0.1;
  const [ty0, ty1] = [ty(y0), ty(y1)];
  const pad = (ty1 - ty0) * 0.04;
  const [lo, hi] = [ty0 - pad, ty1 + pad];
  x0 = Math.min(x0, x1);
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.top + ph - ((ty(Math.min(Math.max(y, y0), y1)) - lo) / (hi - lo)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (o.title) parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // grid and ticks
  for (const x of niceTicks(x0, x1)) {
    const px = sx(x).toFixed(1);
    parts.push(`<line x1="${px}" y1="${m.top}" x2="${px}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${px}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  const yTicks = o.logY ? niceTicks(lo, hi).map((e) => 10 ** e) : niceTicks(lo, hi);
  for (const y of yTicks) {
    if (ty(y) < lo || ty(y) > hi) continue;
    const py = (m.top + ph - ((ty(y) - lo) / (hi - lo)) * ph).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${py}" x2="${m.left + pw}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${fmt(y)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (o.xLabel) parts.push(`<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0))
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (series.length > 1) {
      const ly = m.top + 14 + i * 18;
      const lx = width - m.right + 12;
      parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      parts.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
