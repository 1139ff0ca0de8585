// Experiments: the list (filtered by status), creating one (A/B, canary with steps, shadow, bandit) with the API's
// validation messages next to the fields, lifecycle actions with confirmations, the event timeline, and results:
// per-variant rates with their 95 % intervals drawn as error bars, latency and TTFT, cost, and each comparison's
// test, p-value and verdict in words.
import * as api from './api.js';
import { barChart, timeChart } from './charts.js';
import { badge, clear, dialog, el, field, fmt, showError, table } from './ui.js';

export const TITLE = 'Experiments';
const STATUSES = ['DRAFT', 'RUNNING', 'PAUSED', 'COMPLETED', 'ROLLED_BACK'];

/** Lifecycle actions by status: [label, path, needs a reason, what it does]. */
const ACTIONS = {
  DRAFT: [['Start', 'start', false, 'Traffic for the model is split between the variants from now on.']],
  RUNNING: [
    ['Pause', 'pause', false, 'Every request goes to the control again until it is resumed; results are kept.'],
    ['Complete', 'complete', false, 'The experiment ends (final); every request goes to the control. Promote the winner in the registry.'],
    ['Roll back', 'rollback', true, 'The experiment ends as ROLLED_BACK (final): every request goes to the control at once.'],
  ],
  PAUSED: [
    ['Resume', 'resume', false, 'Traffic is split between the variants again.'],
    ['Complete', 'complete', false, 'The experiment ends (final); every request goes to the control.'],
    ['Roll back', 'rollback', true, 'The experiment ends as ROLLED_BACK (final): every request goes to the control.'],
  ],
};

/** A uPlot chart of one rate per variant with its interval as whiskers (drawn in uPlot's draw hook). */
function errorBars(title) {
  const box = el('div.chart', { role: 'img', 'aria-label': `${title} chart` });
  const node = el('div.panel', {}, el('h3', {}, title), box);
  let plot = null;
  function update(names, rates) {
    if (plot) plot.destroy();
    box.replaceChildren();
    box.dataset.points = String(rates.filter(r => r && r.trials > 0).length);
    const css = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
    const x = names.map((_, i) => i);
    const y = rates.map(r => r && r.trials > 0 ? 100 * r.rate : null);
    const axis = { stroke: css('--text'), grid: { stroke: css('--border'), width: 1 }, ticks: { stroke: css('--border'), width: 1 } };
    const maxHigh = Math.max(1, ...rates.map(r => r && r.trials > 0 ? 100 * r.ciHigh : 0));
    plot = new uPlot({
      width: Math.max(280, box.clientWidth || 480), height: 200,
      scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: [0, maxHigh * 1.1] } },
      axes: [{ ...axis, values: (u, ticks) => ticks.map(t => Number.isInteger(t) ? names[t] ?? '' : ''), splits: () => x },
        { ...axis, size: 55, values: (u, ticks) => ticks.map(t => t.toFixed(1) + ' %') }],
      series: [{}, { label: title, stroke: css('--series-1'), width: 0, points: { show: true, size: 9, fill: css('--series-1') },
        value: (u, v, s, i) => i === null || !rates[i] ? '–' : `${fmt.pct(rates[i].rate)} [${fmt.pct(rates[i].ciLow)}, ${fmt.pct(rates[i].ciHigh)}]` }],
      hooks: { draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = css('--series-1');
        ctx.lineWidth = 2;
        rates.forEach((r, i) => {
          if (!r || r.trials === 0) return;
          const cx = u.valToPos(i, 'x', true);
          const lo = u.valToPos(100 * r.ciLow, 'y', true);
          const hi = u.valToPos(100 * r.ciHigh, 'y', true);
          const w = 8 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(cx, lo); ctx.lineTo(cx, hi);
          ctx.moveTo(cx - w, lo); ctx.lineTo(cx + w, lo);
          ctx.moveTo(cx - w, hi); ctx.lineTo(cx + w, hi);
          ctx.stroke();
        });
        ctx.restore();
      }] },
    }, [x, y], box);
  }
  return { node, update, destroy: () => plot && plot.destroy() };
}

/** A rollback the canary controller made on its own (its reason says so), not an operator's. */
function automatic(ev) { return ev.action === 'ROLLED_BACK' && /^automatic rollback/.test(ev.reason || ''); }

/**
 * The traffic split over time, from the experiment's events: each weight change (canary steps, bandit rebalances,
 * operators' changes) as the event recorded it; a pause or an end sends everything to the control; a start or resume
 * goes back to the last split. The start event records the split traffic started with; for experiments started
 * before it did, the split before the first change is the canary's first step, or, when nothing changed since,
 * today's weights. Epoch seconds and one series per variant, ending now.
 */
function weightHistory(e) {
  const names = e.variants.map(v => v.name);
  const control = e.variants.find(v => v.control)?.name;
  const current = Object.fromEntries(e.variants.map(v => [v.name, v.weightPercent]));
  const events = [...(e.events || [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const firstChange = events.find(ev => ev.weights);
  let last = null;
  if (e.strategy === 'CANARY' && e.canarySteps?.length) {
    const step = e.canarySteps[0];
    last = Object.fromEntries(e.variants.map(v => [v.name, v.control ? 100 - step : step]));
  } else if (!firstChange) {
    last = current;
  }
  const allControl = Object.fromEntries(names.map(n => [n, n === control ? 100 : 0]));
  const points = [];
  for (const ev of events) {
    const t = Date.parse(ev.at) / 1000;
    if (ev.weights) { last = ev.weights; points.push([t, last]); }
    else if (ev.action === 'STARTED' || ev.action === 'RESUMED') { if (last) points.push([t, last]); }
    else if (['PAUSED', 'COMPLETED', 'ROLLED_BACK'].includes(ev.action)) points.push([t, allControl]);
  }
  if (points.length) points.push([Date.now() / 1000, e.status === 'RUNNING' ? current : allControl]);
  return {
    x: points.map(p => p[0]),
    series: names.map(n => ({ label: n, values: points.map(p => p[1][n] ?? null) })),
  };
}

export function mount(view) {
  const message = el('p.status-line#experiments-message', { 'aria-live': 'polite' });
  const filter = el('select#experiments-status', {}, el('option', { value: '' }, 'All statuses'), STATUSES.map(s => el('option', { value: s }, s)));
  const listBox = el('div#experiments-list');
  const detail = el('div#experiment-detail');
  const errorChart = errorBars('Error rate (95 % interval)');
  const feedbackChart = errorBars('Negative feedback (95 % interval)');
  const latencyChart = barChart('Latency distribution', '', { id: 'experiment-latency-distribution' });
  const ttftChart = barChart('TTFT distribution', '', { id: 'experiment-ttft-distribution' });
  const weightsChart = timeChart('Traffic weights over time', '%', { digits: 0, stepped: true });
  weightsChart.node.id = 'experiment-weights';
  view.append(el('h1', {}, 'Experiments'), message,
    el('div.cols', {}, el('div', {}, el('div.panel', {}, el('h2', { style: 'margin-top:0' }, 'Experiments'), field('Status', filter), listBox), createPanel()), detail));
  let selected = decodeURIComponent((location.hash.match(/^#\/experiments\/([^/]+)/) || [])[1] || '');
  let refresh = null;
  filter.addEventListener('change', () => loadList());

  async function loadList() {
    try {
      const { data } = await api.get('/api/experiments' + (filter.value ? `?status=${filter.value}` : ''));
      clear(listBox, table([
        { key: 'name', label: 'Name', render: e => el('button.link', { type: 'button', 'aria-pressed': String(e.name === selected), onclick: () => select(e.name) }, e.name) },
        { key: 'strategy', label: 'Strategy' },
        { key: 'model', label: 'Model' },
        { key: 'status', label: 'Status', render: e => badge(e.status) },
      ], data, { rowAttrs: e => ({ 'data-experiment': e.name, class: e.name === selected ? 'selected' : null }) }));
      if (selected) await loadDetail();
    } catch (err) { if (err.status !== 401) message.textContent = `Could not list the experiments: ${err.message}`; }
  }

  function select(name) {
    selected = name;
    history.replaceState(null, '', `#/experiments/${encodeURIComponent(name)}`);
    loadList();
  }

  async function loadDetail() {
    const name = selected;
    const [e, r] = await Promise.all([api.get(`/api/experiments/${api.seg(name)}`), api.get(`/api/experiments/${api.seg(name)}/results`)]);
    const actions = (ACTIONS[e.status] || []).map(([label, path, needsReason, effect]) =>
      el('button' + (path === 'rollback' ? '.danger' : ''), { type: 'button', 'data-action': path, onclick: () => act(e, label, path, needsReason, effect) }, label));
    clear(detail,
      el('div.panel', {},
        el('h2', { style: 'margin-top:0' }, `${e.name} `, badge(e.status)),
        el('p', {}, `${e.strategy} on ${e.model}; primary metric ${e.primaryMetric}; minimum sample ${e.minimumSample}`,
          e.canarySteps?.length ? `; canary steps ${e.canarySteps.join(' → ')} %` : ''),
        e.hypothesis ? el('p.muted', {}, e.hypothesis) : null,
        table([
          { key: 'name', label: 'Variant', render: v => el('span', {}, v.name, v.control ? ' (control)' : '') },
          { key: 'modelVersion', label: 'Version' },
          { key: 'weightPercent', label: 'Weight', num: true, render: v => v.weightPercent + ' %' },
        ], e.variants, { rowAttrs: v => ({ 'data-variant': v.name }) }),
        el('div.actions#experiment-actions', {}, actions)),
      el('div.panel#experiment-results', {},
        el('h2', { style: 'margin-top:0' }, 'Results'),
        table([
          { key: 'name', label: 'Variant' },
          { key: 'outcomes', label: 'Outcomes', num: true, render: v => fmt.int(v.outcomes) },
          { key: 'errorRate', label: 'Errors [95 %]', num: true, render: v => `${fmt.pct(v.errorRate.rate)} [${fmt.pct(v.errorRate.ciLow)}, ${fmt.pct(v.errorRate.ciHigh)}]` },
          { key: 'negative', label: 'Negative feedback', num: true, render: v => `${fmt.pct(v.negativeFeedbackRate.rate)} of ${fmt.int(v.negativeFeedbackRate.trials)}` },
          { key: 'latency', label: 'Latency p50 / p95', num: true, render: v => `${fmt.ms(v.latencyP50Ms)} / ${fmt.ms(v.latencyP95Ms)}` },
          { key: 'ttft', label: 'TTFT p50 / p95', num: true, render: v => `${fmt.ms(v.ttftP50Ms)} / ${fmt.ms(v.ttftP95Ms)}` },
          { key: 'cost', label: 'Cost', num: true, render: v => fmt.num(v.totalCost, 4) },
        ], r.variants, { rowAttrs: v => ({ 'data-variant': v.name }) }),
        el('div.grid', {}, errorChart.node, feedbackChart.node, latencyChart.node, ttftChart.node),
        el('h3', {}, 'Verdicts'),
        el('ul#experiment-verdicts', {}, r.comparisons.length === 0 ? el('li.muted', {}, 'No comparison yet.') : r.comparisons.map(c => el('li', {},
          el('strong', {}, `${c.variant} vs ${c.control}: `), c.verdict,
          c.test ? el('span.muted', {}, ` (${c.test}, p = ${c.pValue === null ? '–' : c.pValue.toPrecision(3)})`) : null))),
        r.banditAllocation?.length ? el('p', {}, 'Bandit allocation now: ' + r.banditAllocation.map((w, i) => `${r.variants[i]?.name ?? i} ${w} %`).join(', ')) : null,
        r.shadow?.length ? el('p', {}, 'Shadow agreement: ' + r.shadow.map(s => `${s.variant} ${fmt.pct(s.agreement.rate)} of ${s.comparisons}`).join(', ')) : null),
      el('div.panel', {},
        el('h2', { style: 'margin-top:0' }, 'Timeline'),
        weightsChart.node,
        el('ol.timeline#experiment-timeline', {}, [...(e.events || [])].reverse().map(ev => el('li', { 'data-action': ev.action },
          el('time', { datetime: ev.at }, fmt.time(ev.at)), badge(ev.action), ' ',
          automatic(ev) ? el('span', {}, badge('AUTOMATIC'), ' ') : null,
          ev.from ? `${ev.from} → ${ev.to}` : ev.to, ' by ', ev.actor,
          ev.weights ? el('div', { 'data-weights': '' }, 'Weights: ' + Object.entries(ev.weights).map(([n, w]) => `${n} ${w} %`).join(', ')) : null,
          ev.reason ? el('div.muted', {}, `“${ev.reason}”`) : null)))));
    errorChart.update(r.variants.map(v => v.name), r.variants.map(v => v.errorRate));
    feedbackChart.update(r.variants.map(v => v.name), r.variants.map(v => v.negativeFeedbackRate));
    const bins = (d) => d.counts.map((_, i) => i < d.upperEdgesMs.length ? '≤' + fmt.ms(d.upperEdgesMs[i]).replace('.0 ', ' ') : '>' + fmt.ms(d.upperEdgesMs[d.upperEdgesMs.length - 1]).replace('.0 ', ' '));
    if (r.variants.length) {
      latencyChart.update(bins(r.variants[0].latencyDistribution), r.variants.map(v => ({ label: v.name, values: v.latencyDistribution.counts })));
      ttftChart.update(bins(r.variants[0].ttftDistribution), r.variants.map(v => ({ label: v.name, values: v.ttftDistribution.counts })));
    }
    const w = weightHistory(e);
    weightsChart.node.hidden = w.x.length === 0;
    if (w.x.length) weightsChart.update(w.x, w.series);
  }

  async function act(e, label, path, needsReason, effect) {
    const reason = el('input#experiment-reason', { maxlength: 1000, autocomplete: 'off' });
    const done = await dialog({
      title: `${label} ${e.name}?`,
      body: [el('p.notice#experiment-effect', {}, effect), field(needsReason ? 'Reason (required)' : 'Reason (optional)', reason)],
      confirmLabel: label,
      danger: path === 'rollback',
      onConfirm: async () => {
        if (needsReason && !reason.value.trim()) { reason.focus(); throw new Error('A reason is required: it is recorded in the timeline.'); }
        return api.post(`/api/experiments/${api.seg(e.name)}/${path}`, reason.value.trim() ? { reason: reason.value.trim() } : {});
      },
    });
    if (done) { message.textContent = `${e.name} is now ${done.status}.`; await loadList(); }
  }

  function createPanel() {
    const name = el('input#exp-name', { maxlength: 100, autocomplete: 'off', 'data-param': 'name' });
    const model = el('input#exp-model', { maxlength: 128, autocomplete: 'off', 'data-param': 'model' });
    const strategy = el('select#exp-strategy', { 'data-param': 'strategy' }, ['AB', 'CANARY', 'SHADOW', 'BANDIT'].map(s => el('option', { value: s }, s)));
    const metric = el('select#exp-metric', { 'data-param': 'primaryMetric' }, ['error_rate', 'negative_feedback_rate', 'latency_ms', 'ttft_ms', 'cost'].map(s => el('option', { value: s }, s)));
    const maxError = el('input#exp-max-error', { type: 'number', min: 0, max: 1, step: 0.01, 'data-param': 'maxErrorRate' });
    const minimum = el('input#exp-minimum', { type: 'number', min: 1, 'data-param': 'minimumSample' });
    const steps = el('input#exp-steps', { placeholder: '5,25,50,100', autocomplete: 'off', 'data-param': 'canarySteps' });
    const hypothesis = el('input#exp-hypothesis', { maxlength: 2000, autocomplete: 'off', 'data-param': 'hypothesis' });
    const variantRows = el('div#exp-variants', { 'data-param': 'variants', tabindex: '-1' });
    const addVariant = (i, control, weight) => {
      const n = el(`input#exp-v${i}-name`, { value: control ? 'control' : `candidate${i}`, autocomplete: 'off' });
      const v = el(`input#exp-v${i}-version`, { placeholder: '1.0.0', autocomplete: 'off', 'data-param': i === 0 ? 'variants.modelVersion' : null });
      const w = el(`input#exp-v${i}-weight`, { type: 'number', min: 0, max: 100, value: String(weight), 'data-param': i === 0 ? 'variants.weightPercent' : null });
      const c = el(`input#exp-v${i}-control`, { type: 'radio', name: 'exp-control', style: 'width:auto', checked: control });
      variantRows.append(el('fieldset.form-grid', { 'data-variant-row': i }, el('legend', {}, `Variant ${i + 1}`),
        field('Name', n), field('Model version', v), field('Weight %', w),
        el('div.field', {}, el('label', { for: c.id }, c, ' Control'))));
    };
    addVariant(0, true, 90);
    addVariant(1, false, 10);
    let count = 2;
    const error = el('p.error#exp-error', { role: 'alert' });
    const variantsError = el('p.error#exp-variants-error', { 'aria-live': 'polite' });
    const form = el('form#exp-form', { novalidate: true },
      el('div.form-grid', {}, field('Name', name), field('Model', model), field('Strategy', strategy), field('Primary metric', metric),
        field('Largest error rate', maxError, '0..1; a canary rolls back above it'), field('Minimum sample', minimum),
        field('Canary steps (%)', steps, 'CANARY only, increasing, ending at 100')),
      field('Hypothesis', hypothesis), variantRows, variantsError,
      el('div.actions', {}, el('button.secondary', { type: 'button', onclick: () => addVariant(count++, false, 0) }, 'Add a variant')),
      error, el('div.actions', {}, el('button#exp-submit', { type: 'submit' }, 'Create experiment')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const num = (i) => i.value.trim() === '' ? undefined : Number(i.value);
      const body = {
        name: name.value.trim(), model: model.value.trim(), strategy: strategy.value, primaryMetric: metric.value,
        maxErrorRate: num(maxError), minimumSample: num(minimum), hypothesis: hypothesis.value.trim() || undefined,
        canarySteps: strategy.value === 'CANARY' && steps.value.trim() ? steps.value.trim() : undefined,
        variants: [...variantRows.querySelectorAll('fieldset')].map(f => ({
          name: f.querySelector('input[id$="-name"]').value.trim(),
          modelVersion: f.querySelector('input[id$="-version"]').value.trim(),
          weightPercent: Number(f.querySelector('input[id$="-weight"]').value),
          control: f.querySelector('input[type=radio]').checked,
        })),
      };
      variantsError.textContent = '';
      try {
        const created = await api.post('/api/experiments', body);
        message.textContent = `Experiment ${created.name} created (DRAFT).`;
        selected = created.name;
        await loadList();
      } catch (err) {
        if (err.status === 401) return;
        if (err.param === 'variants' || err.param === 'weights') { variantsError.textContent = err.message; showError(form, { message: '' }, error); return; }
        showError(form, err, error);
      }
    });
    return el('div.panel', {}, el('h2', { style: 'margin-top:0' }, 'New experiment'), form);
  }

  loadList();
  refresh = setInterval(() => { if (selected && !document.getElementById('dialog').open) loadDetail().catch(() => {}); }, 5000);
  return () => { clearInterval(refresh); [errorChart, feedbackChart, latencyChart, ttftChart, weightsChart].forEach(c => c.destroy()); };
}
