// Playground: chat with any servable version (`name` or `name@version`) through /v1/chat/completions, streamed as it
// is generated; optionally side by side with a second version on the same prompt. Each answer shows its time to
// first token, tokens per second, the response cache's verdict and guardrail findings. An API key field lets the
// operator talk as a client would (scoped, limited and refused as that key is); without one the admin's own
// credentials are used (admins may pin any version).
import * as api from './api.js';
import { clear, el, field, fmt } from './ui.js';

export const TITLE = 'Playground';

async function servable() {
  const { data: models } = await api.get('/api/registry/models');
  const refs = [];
  for (const m of models) {
    const { data: versions } = await api.get(`/api/registry/models/${api.seg(m.name)}/versions`);
    if (m.productionVersion) refs.push({ value: m.name, label: `${m.name} (serves ${m.productionVersion})` });
    for (const v of versions) if (v.stage !== 'ARCHIVED') refs.push({ value: `${m.name}@${v.version}`, label: `${m.name}@${v.version} (${v.stage})` });
  }
  return refs;
}

export function mount(view) {
  const controller = new AbortController();
  const primary = el('select#play-model', { 'data-param': 'model' });
  const compare = el('select#play-compare', {}, el('option', { value: '' }, 'No comparison'));
  const system = el('textarea#play-system', { rows: 2, maxlength: 20000 });
  const prompt = el('textarea#play-prompt', { rows: 4, maxlength: 100000, required: true });
  const temperature = el('input#play-temperature', { type: 'number', min: 0, max: 2, step: 0.1, value: '0.8' });
  const topP = el('input#play-top-p', { type: 'number', min: 0, max: 1, step: 0.05, value: '1' });
  const maxTokens = el('input#play-max-tokens', { type: 'number', min: 1, max: 4096, value: '64' });
  const seed = el('input#play-seed', { type: 'number', step: 1, placeholder: 'random' });
  const apiKey = el('input#play-api-key', { type: 'password', autocomplete: 'off', maxlength: 200, placeholder: 'anv-… (optional)' });
  const error = el('p.error#play-error', { role: 'alert' });
  const send = el('button#play-send', { type: 'submit' }, 'Send');
  const answers = el('div.grid#play-answers');
  const form = el('form#play-form', { novalidate: true },
    el('div.form-grid', {}, field('Model version', primary), field('Compare with', compare),
      field('API key', apiKey, 'Talk as that key’s client; empty: as the signed-in admin')),
    field('System prompt', system),
    field('Message', prompt),
    el('div.form-grid', {}, field('Temperature', temperature), field('top_p', topP), field('max_tokens', maxTokens), field('Seed', seed)),
    error, el('div.actions', {}, send));
  view.append(el('h1', {}, 'Playground'), el('div.panel', {}, form), answers);

  servable().then(refs => {
    clear(primary, refs.map(r => el('option', { value: r.value }, r.label)));
    compare.append(...refs.map(r => el('option', { value: r.value }, r.label)));
  }).catch(err => { if (err.status !== 401) error.textContent = `Could not list the versions: ${err.message}`; });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (!prompt.value.trim()) { error.textContent = 'Write a message first.'; prompt.focus(); return; }
    const targets = [primary.value, compare.value].filter(Boolean);
    send.disabled = true;
    clear(answers);
    try {
      await Promise.all(targets.map((model, i) => run(model, i)));
    } finally {
      send.disabled = false;
    }
  });

  async function run(model, index) {
    const text = el('p.answer', { 'aria-live': 'polite', style: 'white-space:pre-wrap' });
    const stats = el('dl.stats');
    const problem = el('p.error', { role: 'alert' });
    const box = el('section.panel.play-answer', { 'aria-label': `Answer of ${model}`, 'data-model': model, 'data-index': index },
      el('h2', { style: 'margin-top:0' }, model), text, problem, stats);
    answers.append(box);
    const messages = [];
    if (system.value.trim()) messages.push({ role: 'system', content: system.value });
    messages.push({ role: 'user', content: prompt.value });
    const body = {
      model, messages, stream: true, stream_options: { include_usage: true },
      temperature: Number(temperature.value), top_p: Number(topP.value), max_tokens: Number(maxTokens.value),
    };
    if (seed.value.trim() !== '') body.seed = Number(seed.value);
    const started = performance.now();
    let first = null;
    let usage = null;
    let served = model;
    try {
      const response = await api.stream('/v1/chat/completions', body, {
        apiKey: apiKey.value.trim() || null,
        signal: controller.signal,
        onEvent: (chunk) => {
          if (chunk.model) served = chunk.model;
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            const delta = c.delta?.content;
            if (delta) { if (first === null) first = performance.now(); text.append(delta); }
          }
        },
      });
      const end = performance.now();
      const tokens = usage?.completion_tokens ?? null;
      const rate = tokens && first !== null && end > first ? (tokens - 1) / ((end - first) / 1000) : null;
      const rows = [
        ['Served by', served],
        ['Time to first token', first === null ? '–' : fmt.ms(first - started)],
        ['Tokens', tokens ?? '–'],
        ['Tokens/s', rate === null ? '–' : fmt.num(rate)],
        ['Cache', response.headers.get('X-Anvil-Cache') || '–'],
        ['Guardrails', response.headers.get('X-Anvil-Guardrails') || 'no findings'],
      ];
      clear(stats, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-stat': k }, String(v))]),
        traceRow(response.headers.get('X-Anvil-Trace-Id')));
      box.dataset.done = 'true';
    } catch (err) {
      if (err.name === 'AbortError') return;
      problem.textContent = `${err.status ? 'HTTP ' + err.status + ': ' : ''}${err.message}`;
      clear(stats, traceRow(err.traceId));
      box.dataset.done = 'error';
    }
  }

  return () => controller.abort();
}

/**
 * The answer's trace id (X-Anvil-Trace-Id): the key to its spans in the trace backend the server exports to
 * (OpenTelemetry, when configured) and to the server's log lines; shown with a copy button.
 */
function traceRow(id) {
  if (!id) return [el('dt', {}, 'Trace id'), el('dd', { 'data-stat': 'Trace id' }, el('span.muted', {}, 'none: this server exports no traces (OpenTelemetry is off)'))];
  const code = el('code', {}, id);
  const note = el('span.muted', { 'aria-live': 'polite' });
  const copy = el('button.secondary.small', { type: 'button', 'aria-label': `Copy trace id ${id}`, onclick: async () => {
    try { await navigator.clipboard.writeText(id); note.textContent = ' copied'; }
    catch { const r = document.createRange(); r.selectNodeContents(code); getSelection().removeAllRanges(); getSelection().addRange(r); note.textContent = ' selected: Ctrl+C'; }
  } }, 'Copy');
  return [el('dt', {}, 'Trace id'), el('dd', { 'data-stat': 'Trace id' }, code, ' ', copy, note)];
}
