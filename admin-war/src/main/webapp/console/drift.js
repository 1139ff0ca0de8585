// Drift: every version watched since it was loaded (GET /api/drift) with the features that breached their
// threshold, one version's statistics per feature (windows, PSI, KL, breach) and the reference and current
// histograms of a feature side by side, and pinning the reference (the traffic of now becomes the normal one).
import * as api from './api.js';
import { badge, clear, dialog, el, field, fmt, table } from './ui.js';

export const TITLE = 'Drift';

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

/** Reference and current proportions per bin as grouped bars (uPlot's bars path builder). */
function histogramChart() {
  const box = el('div.chart#drift-histogram', { role: 'img', 'aria-label': 'Histogram chart: reference and current window' });
  const heading = el('h3#drift-histogram-title', {}, 'Histogram');
  const node = el('div.panel', {}, heading, box);
  let plot = null;
  function update(feature) {
    if (plot) { plot.destroy(); plot = null; }
    box.replaceChildren();
    const h = feature?.histogram;
    heading.textContent = feature ? `Histogram of ${feature.feature}` : 'Histogram';
    box.dataset.points = String(h ? h.bins.length : 0);
    if (!h) { box.append(el('p.muted', {}, 'Not enough samples in both windows yet.')); return; }
    const x = h.bins.map((_, i) => i);
    const axis = { stroke: cssVar('--text'), grid: { stroke: cssVar('--border'), width: 1 }, ticks: { stroke: cssVar('--border'), width: 1 } };
    const bars = (offset) => uPlot.paths.bars({ size: [0.38, 60], align: offset });
    plot = new uPlot({
      width: Math.max(280, box.clientWidth || 560), height: 220,
      scales: { x: { time: false, range: [-0.6, h.bins.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 0.01) * 1.1] } },
      axes: [{ ...axis, splits: () => x, values: (u, ticks) => ticks.map(t => h.bins[t] ?? '') },
        { ...axis, size: 55, values: (u, ticks) => ticks.map(t => (100 * t).toFixed(0) + ' %') }],
      series: [{},
        { label: 'reference', stroke: cssVar('--series-1'), fill: cssVar('--series-1'), paths: bars(-1), points: { show: false }, value: (u, v) => v == null ? '–' : fmt.pct(v) },
        { label: 'current', stroke: cssVar('--series-2'), fill: cssVar('--series-2'), paths: bars(1), points: { show: false }, value: (u, v) => v == null ? '–' : fmt.pct(v) }],
    }, [x, h.reference, h.current], box);
  }
  return { node, update, destroy: () => plot && plot.destroy() };
}

export function mount(view) {
  const message = el('p.status-line#drift-message', { 'aria-live': 'polite' });
  const listBox = el('div.panel#drift-versions');
  const detail = el('div#drift-detail');
  const chart = histogramChart();
  view.append(el('h1', {}, 'Drift'), message, el('div.cols', {}, listBox, detail));
  let selected = decodeURIComponent((location.hash.match(/^#\/drift\/([^/]+)/) || [])[1] || '');
  let feature = null;
  let timer = null;

  async function loadList() {
    try {
      const { data } = await api.get('/api/drift');
      if (!selected && data.length) selected = `${data[0].model}@${data[0].version}`;
      clear(listBox, el('h2', { style: 'margin-top:0' }, 'Watched versions'),
        el('p.muted', {}, 'Each version served since it was loaded on this server: its traffic now against its reference window.'),
        table([
          { key: 'ref', label: 'Version', render: s => el('button.link', { type: 'button', 'aria-pressed': String(`${s.model}@${s.version}` === selected), onclick: () => select(`${s.model}@${s.version}`) }, `${s.model}@${s.version}`) },
          { key: 'referenceSince', label: 'Reference since', render: s => fmt.time(s.referenceSince) },
          { key: 'breached', label: 'Breaches', render: s => s.breached.length ? el('span', {}, badge('DRIFT'), ' ', s.breached.join(', ')) : badge('OK') },
        ], data, { rowAttrs: s => ({ 'data-ref': `${s.model}@${s.version}`, class: `${s.model}@${s.version}` === selected ? 'selected' : null }) }));
      if (selected) await loadDetail(); else clear(detail, el('div.panel', {}, el('p.muted', {}, 'No version has served traffic since this server started.')));
    } catch (err) { if (err.status !== 401) message.textContent = `Could not read the drift reports: ${err.message}`; }
  }

  function select(ref) {
    selected = ref;
    feature = null;
    history.replaceState(null, '', `#/drift/${encodeURIComponent(ref)}`);
    loadList();
  }

  async function loadDetail() {
    const at = selected.lastIndexOf('@');
    const model = selected.slice(0, at);
    const version = selected.slice(at + 1);
    let r;
    try {
      r = await api.get(`/api/drift/${api.seg(model)}/${api.seg(version)}`);
    } catch (err) {
      if (err.status === 404) { clear(detail, el('div.panel', {}, el('p.muted', {}, err.message))); return; }
      throw err;
    }
    if (!feature || !r.features.some(f => f.feature === feature)) feature = (r.features.find(f => f.histogram) || r.features[0])?.feature ?? null;
    const t = r.thresholds;
    clear(detail,
      el('div.panel#drift-report', {},
        el('h2', { style: 'margin-top:0' }, `Drift of ${r.model}@${r.version}`),
        el('p.muted', {}, `Reference since ${fmt.time(r.referenceSince)} (${t.referenceSize} requests); current window ${t.windowSize}; `,
          `a feature breaches at PSI ≥ ${t.psi} or KL ≥ ${t.kl}, once both windows hold ${t.minSamples} samples.`),
        table([
          { key: 'feature', label: 'Feature', render: f => el('button.link', { type: 'button', 'aria-pressed': String(f.feature === feature), onclick: () => { feature = f.feature; loadDetail(); } }, f.feature) },
          { key: 'referenceCount', label: 'Reference n', num: true, render: f => fmt.int(f.referenceCount) },
          { key: 'currentCount', label: 'Current n', num: true, render: f => fmt.int(f.currentCount) },
          { key: 'psi', label: 'PSI', num: true, render: f => f.psi == null ? '–' : f.psi.toFixed(3) },
          { key: 'kl', label: 'KL', num: true, render: f => f.kl == null ? '–' : f.kl.toFixed(3) },
          { key: 'breached', label: 'State', render: f => f.breached ? badge('BREACHED') : f.psi == null ? el('span.muted', {}, 'collecting') : badge('OK') },
        ], r.features, { rowAttrs: f => ({ 'data-feature': f.feature, class: f.feature === feature ? 'selected' : null }) }),
        el('div.actions', {}, el('button.secondary#drift-pin', { type: 'button', onclick: () => pin(r) }, 'Pin the reference…'))),
      chart.node);
    chart.update(r.features.find(f => f.feature === feature));
  }

  async function pin(r) {
    const reason = el('input#drift-reason', { maxlength: 900, autocomplete: 'off' });
    const done = await dialog({
      title: `Pin the reference of ${r.model}@${r.version}?`,
      body: [el('p.notice#drift-pin-effect', {}, 'The current windows become the reference: the traffic of now is declared the normal one, breaches clear, and new current windows start. Recorded in the version’s history.'),
        field('Reason (optional)', reason)],
      confirmLabel: 'Pin reference',
      onConfirm: () => api.post(`/api/drift/${api.seg(r.model)}/${api.seg(r.version)}/reference`, reason.value.trim() ? { reason: reason.value.trim() } : {}),
    });
    if (done) { message.textContent = `The reference of ${r.model}@${r.version} is pinned to the traffic of now.`; await loadList(); }
  }

  loadList();
  timer = setInterval(() => { if (!document.getElementById('dialog').open) loadList(); }, 10000);
  return () => { clearInterval(timer); chart.destroy(); };
}
