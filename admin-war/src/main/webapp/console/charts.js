// Time-series charts on uPlot (the WebJar index.html loads, global `uPlot`). One chart shows one measure of every
// loaded version; colours and axis text follow the page's CSS variables, so dark mode applies to the charts too.
import { el } from './ui.js';

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

/** Axis numbers that fit: 1.2k, 3.4M. */
function compact(v, digits) {
  const a = Math.abs(v);
  if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return +(v / 1e3).toFixed(0) + 'k';
  if (a >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
  return +v.toFixed(digits);
}

function palette(i) { return cssVar(`--series-${(i % 6) + 1}`); }

/**
 * A chart of `measure` over time for several series. update(x, seriesList) redraws: x is epoch seconds, seriesList is
 * [{label, values}] aligned with x (null for a gap). The container's data-points tells how many samples it shows.
 */
export function timeChart(title, unit, { digits = 1, stepped = false } = {}) {
  const box = el('div.chart', { role: 'img', 'aria-label': `${title} chart` });
  const heading = el('h3', {}, title);
  const wrap = el('div.panel', {}, heading, box);
  let plot = null;
  let labels = '';
  let observer = null;

  function options(seriesList) {
    const text = cssVar('--text');
    const grid = cssVar('--border');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    return {
      width: Math.max(280, box.clientWidth || 560),
      height: 200,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1e-9) * 1.1] } },
      axes: [axis, { ...axis, size: 78, values: (u, ticks) => ticks.map(v => v === null ? '' : compact(v, digits) + (unit ? ' ' + unit : '')) }],
      series: [{}, ...seriesList.map((s, i) => ({
        label: s.label, stroke: palette(i), width: 2, spanGaps: false,
        paths: stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, v) => v === null || v === undefined ? '–' : v.toFixed(digits) + (unit ? ' ' + unit : ''),
      }))],
      legend: { show: true },
      cursor: { focus: { prox: 16 } },
    };
  }

  function update(x, seriesList) {
    box.dataset.points = String(x.length);
    const data = [x, ...seriesList.map(s => s.values)];
    const key = seriesList.map(s => s.label).join('\u0000');
    if (!plot || key !== labels) {
      if (plot) plot.destroy();
      box.replaceChildren();
      labels = key;
      plot = new uPlot(options(seriesList), data, box);
      if (!observer) {
        observer = new ResizeObserver(() => { if (plot && box.clientWidth) plot.setSize({ width: box.clientWidth, height: 200 }); });
        observer.observe(box);
      }
    } else {
      plot.setData(data);
    }
  }

  function destroy() {
    if (observer) observer.disconnect();
    if (plot) plot.destroy();
    plot = null;
  }

  return { node: wrap, update, destroy };
}


/**
 * Grouped bars: one bar per series in each category (bins of a distribution, say). update(categories, seriesList)
 * redraws with seriesList [{label, values}] aligned with categories; data-points tells how many categories show.
 */
export function barChart(title, unit, { id, digits = 0 } = {}) {
  const box = el('div.chart', { role: 'img', 'aria-label': `${title} chart`, id });
  const wrap = el('div.panel', {}, el('h3', {}, title), box);
  let plot = null;
  function update(categories, seriesList) {
    if (plot) plot.destroy();
    box.replaceChildren();
    box.dataset.points = String(seriesList.some(s => s.values.some(v => v)) ? categories.length : 0);
    const x = categories.map((_, i) => i);
    const text = cssVar('--text');
    const grid = cssVar('--border');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const n = Math.max(1, seriesList.length);
    plot = new uPlot({
      width: Math.max(280, box.clientWidth || 560), height: 200,
      scales: { x: { time: false, range: [-0.6, categories.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1) * 1.1] } },
      axes: [{ ...axis, splits: () => x, values: (u, ticks) => ticks.map(t => categories[t] ?? '') },
        { ...axis, size: 55, values: (u, ticks) => ticks.map(v => compact(v, digits) + (unit ? ' ' + unit : '')) }],
      series: [{}, ...seriesList.map((s, i) => ({
        label: s.label, stroke: palette(i), fill: palette(i), points: { show: false },
        // Each series' bars side by side within the category: 0.8 of it split n ways, the i-th slot for series i
        // (x0 and size in x-scale units).
        paths: uPlot.paths.bars({ disp: {
          x0: { unit: 1, values: () => x.map(c => c - 0.4 + i * 0.8 / n) },
          size: { unit: 1, values: () => x.map(() => 0.8 / n) } } }),
        value: (u, v) => v == null ? '–' : compact(v, digits) + (unit ? ' ' + unit : ''),
      }))],
    }, [x, ...seriesList.map(s => s.values)], box);
  }
  return { node: wrap, update, destroy: () => plot && plot.destroy() };
}
