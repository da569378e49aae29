// A chart as a standalone vector SVG document: title, plot frame, grid,
// axes with their ticks and labels, one <path> per series in its colour
// (one M/L command per point), and a legend. Built from the values and the
// scale ranges the chart drew (chart.tsx hands them over), not from its
// pixels, so it stays sharp at any size and each series can be read back.

export interface SvgSeries {
  label: string;
  color: string;
  // Points with a null or non-finite y are not drawn (gaps are spanned, as
  // on screen).
  x: ArrayLike<number>;
  y: ArrayLike<number | null | undefined>;
}

export interface SvgChart {
  title: string;
  xLabel: string;
  width: number; // of the plot with its axes, in px
  height: number;
  xTime: boolean; // x in seconds since the epoch, ticks as dates
  logY: boolean;
  xRange: [number, number];
  yRange: [number, number];
  series: SvgSeries[];
}

const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';
const MARGIN = { left: 70, right: 16, top: 32, bottom: 44 };
const LEGEND_ROW = 18;

export function escapeXml(text: string): string {
  // XML 1.0 has no way to write these control characters: they are dropped.
  text = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

// A number without float noise, short enough for a tick.
function tickText(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(10)));
}

// 1, 2 or 5 times a power of ten, close to span / count.
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function linearTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min];
  const step = niceStep(max - min, count);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 31536000];

function timeTicks(min: number, max: number, count: number): { ticks: number[]; step: number } {
  const raw = (max - min) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) ?? niceStep(max - min, count);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max; v += step) ticks.push(v);
  return { ticks, step };
}

const pad = (n: number) => String(n).padStart(2, '0');

function timeText(seconds: number, step: number): string {
  const d = new Date(seconds * 1000);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step >= 86400) return date;
  if (step < 60) return `${time}:${pad(d.getSeconds())}`;
  return time;
}

// Decades when the range spans at least two; otherwise plain ticks.
function logTicks(min: number, max: number, count: number): number[] {
  const decades: number[] = [];
  for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) decades.push(Math.pow(10, e));
  if (decades.length >= 2) {
    const every = Math.ceil(decades.length / Math.max(1, count));
    return decades.filter((_, i) => i % every === 0);
  }
  return linearTicks(min, max, count).filter((v) => v > 0);
}

export function chartSvg(chart: SvgChart): string {
  const plotWidth = Math.max(50, chart.width - MARGIN.left - MARGIN.right);
  const plotHeight = Math.max(50, chart.height - MARGIN.top - MARGIN.bottom);
  const [x0, x1] = chart.xRange;
  const [y0, y1] = chart.yRange;
  const yScale = chart.logY && y0 > 0 && y1 > 0 ? (v: number) => Math.log10(v) : (v: number) => v;
  const ySpan = yScale(y1) - yScale(y0) || 1;
  const xSpan = x1 - x0 || 1;
  const px = (v: number) => MARGIN.left + ((v - x0) / xSpan) * plotWidth;
  const py = (v: number) => MARGIN.top + plotHeight - ((yScale(v) - yScale(y0)) / ySpan) * plotHeight;
  const r = (v: number) => String(Math.round(v * 100) / 100);

  // The legend: rows of swatch and label, wrapped at the chart's width.
  const legend: { label: string; color: string; x: number; row: number }[] = [];
  let at = MARGIN.left;
  let row = 0;
  for (const s of chart.series) {
    const width = 28 + s.label.length * 6.5 + 16;
    if (at + width > chart.width && at > MARGIN.left) {
      row++;
      at = MARGIN.left;
    }
    legend.push({ label: s.label, color: s.color, x: at, row });
    at += width;
  }
  const legendTop = chart.height + 6;
  const total = legendTop + (chart.series.length ? (row + 1) * LEGEND_ROW : 0) + 4;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${chart.width}" height="${total}" viewBox="0 0 ${chart.width} ${total}" ` +
      `font-family="${FONT}" font-size="11">`,
  );
  out.push(`<title>${escapeXml(chart.title)}</title>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="20" font-size="14" font-weight="600" fill="#1d2330">${escapeXml(chart.title)}</text>`);
  out.push(`<defs><clipPath id="plot"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}"/></clipPath></defs>`);

  // Grid and ticks.
  const grid: string[] = [];
  const labels: string[] = [];
  const bottom = MARGIN.top + plotHeight;
  const xCount = Math.max(2, Math.floor(plotWidth / 90));
  let xTicks: { value: number; text: string }[];
  if (chart.xTime) {
    const { ticks, step } = timeTicks(x0, x1, xCount);
    xTicks = ticks.map((value) => ({ value, text: timeText(value, step) }));
  } else {
    xTicks = linearTicks(x0, x1, xCount).map((value) => ({ value, text: tickText(value) }));
  }
  for (const tick of xTicks) {
    const x = r(px(tick.value));
    grid.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${bottom}"/>`);
    labels.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="#6b7280"/>`);
    labels.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle">${escapeXml(tick.text)}</text>`);
  }
  const yCount = Math.max(2, Math.floor(plotHeight / 40));
  const yTicks = chart.logY && y0 > 0 ? logTicks(y0, y1, yCount) : linearTicks(y0, y1, yCount);
  for (const value of yTicks) {
    const y = r(py(value));
    grid.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotWidth}" y2="${y}"/>`);
    labels.push(`<line x1="${MARGIN.left - 4}" y1="${y}" x2="${MARGIN.left}" y2="${y}" stroke="#6b7280"/>`);
    labels.push(`<text x="${MARGIN.left - 7}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(tickText(value))}</text>`);
  }
  out.push(`<g class="grid" stroke="#e3e6eb" stroke-width="1">${grid.join('')}</g>`);
  out.push(`<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#9aa3af"/>`);
  out.push(`<g class="axes" fill="#1d2330">${labels.join('')}</g>`);
  out.push(
    `<text class="x-label" x="${r(MARGIN.left + plotWidth / 2)}" y="${bottom + 34}" text-anchor="middle" fill="#1d2330">` +
      `${escapeXml(chart.xLabel)}</text>`,
  );

  // The series, in their colours.
  out.push(`<g class="series" clip-path="url(#plot)" fill="none" stroke-width="1.5" stroke-linejoin="round">`);
  chart.series.forEach((s, index) => {
    const parts: string[] = [];
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      if (y === null || y === undefined || !Number.isFinite(y) || !Number.isFinite(s.x[i])) continue;
      if (chart.logY && !(y > 0)) continue;
      parts.push(`${parts.length ? 'L' : 'M'}${r(px(s.x[i]))},${r(py(y))}`);
    }
    out.push(
      `<path data-series="${index}" stroke="${escapeXml(s.color)}" d="${parts.join('')}"><title>${escapeXml(s.label)}</title></path>`,
    );
  });
  out.push(`</g>`);

  out.push(`<g class="legend" fill="#1d2330">`);
  for (const item of legend) {
    const y = legendTop + item.row * LEGEND_ROW + LEGEND_ROW / 2;
    out.push(`<line x1="${r(item.x)}" y1="${y}" x2="${r(item.x + 20)}" y2="${y}" stroke="${escapeXml(item.color)}" stroke-width="3"/>`);
    out.push(`<text x="${r(item.x + 26)}" y="${y}" dominant-baseline="middle">${escapeXml(item.label)}</text>`);
  }
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join('\n');
}
