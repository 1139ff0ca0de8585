// Routers: the cost-aware routers (GET /api/routers) with their candidates (cheapest first, with the gateway's
// prices), tenant policies and cascade; each router's requests, escalations and savings over the last 30 days from
// the usage report (GET /api/gateway/usage, its `routers` section); a router created, edited (PUT replaces the whole
// definition, checked by the server) and deleted with a confirmation.
import * as api from './api.js';
import { badge, clear, dialog, el, field, fmt, table } from './ui.js';

export const TITLE = 'Routers';

const intOrNull = (s) => s.trim() === '' ? null : Number(s.trim());

/** "tenant: a, b" per line → [{tenant, models}]; blank lines ignored. */
function parseTenants(text) {
  const out = [];
  for (const line of text.split('\n').map(l => l.trim()).filter(Boolean)) {
    const at = line.indexOf(':');
    if (at < 1) throw new Error(`Tenant policy '${line}': write it as 'tenant: model, model'.`);
    out.push({ tenant: line.slice(0, at).trim(), models: line.slice(at + 1).split(',').map(s => s.trim()).filter(Boolean) });
  }
  return out;
}

function cascadeText(c) {
  if (!c || !c.enabled) return 'off';
  const checks = [];
  if (c.minMeanLogprob != null) checks.push(`mean logprob ≥ ${c.minMeanLogprob}`);
  if (c.onGuardrail == null || c.onGuardrail) checks.push('guardrails');
  if (c.onJson == null || c.onJson) checks.push('JSON');
  return `escalates on ${checks.join(', ') || 'nothing'}`;
}

function limits(c) {
  const parts = [];
  if (c.maxPromptTokens != null) parts.push(`prompt ≤ ${c.maxPromptTokens}`);
  if (c.maxMaxTokens != null) parts.push(`max_tokens ≤ ${c.maxMaxTokens}`);
  if (c.maxComplexity != null) parts.push(`complexity ≤ ${c.maxComplexity}`);
  if (c.expectedTtftMs != null) parts.push(`TTFT ~${c.expectedTtftMs} ms`);
  if (c.expectedTpotMs != null) parts.push(`TPOT ~${c.expectedTpotMs} ms`);
  return parts.join(', ') || 'no limit';
}

const price = (c) => c.promptPricePer1k == null ? '–' : `${c.promptPricePer1k} / ${c.completionPricePer1k}`;

export function mount(view) {
  const message = el('p.status-line#routers-message', { 'aria-live': 'polite' });
  const listBox = el('div.panel#routers-list');
  const savingsBox = el('div.panel#routers-savings');
  view.append(el('h1', {}, 'Routers'), message,
    el('p.muted', {}, 'A router is a model name (e.g. "auto") that sends each request to the cheapest candidate meeting its needs; with a cascade, an answer of a cheaper candidate that fails a check is answered again by the last one.'),
    el('div.actions', {}, el('button#router-new', { type: 'button', onclick: () => edit(null) }, 'New router…')),
    listBox, savingsBox);
  let models = [];

  async function load() {
    try {
      const [{ data }, registry] = await Promise.all([api.get('/api/routers'), api.get('/api/registry/models')]);
      models = registry.data.map(m => m.name);
      clear(listBox, el('h2', { style: 'margin-top:0' }, 'Routers'), data.length === 0
        ? el('p.muted', {}, 'No router yet: create one to serve a name such as "auto".')
        : data.map(r => el('div.router', { 'data-router': r.name },
          el('h3', {}, r.name, ' ', el('span.muted', {}, `updated ${fmt.time(r.updatedAt)} by ${r.updatedBy}`)),
          table([
            { key: 'order', label: '#', num: true, render: c => String(r.candidates.indexOf(c) + 1) },
            { key: 'model', label: 'Candidate', render: c => el('code', {}, c.model) },
            { key: 'limits', label: 'Takes', render: limits },
            { key: 'price', label: 'Price / 1k (prompt / completion)', num: true, render: price },
          ], r.candidates, { rowAttrs: c => ({ 'data-candidate': c.model }) }),
          el('p', { 'data-col': 'cascade' }, el('strong', {}, 'Cascade: '), cascadeText(r.cascade)),
          r.tenants.length ? el('p', { 'data-col': 'tenants' }, el('strong', {}, 'Tenant policies: '),
            r.tenants.map(p => `${p.tenant} → ${p.models.join(', ')}`).join('; ')) : null,
          el('div.actions', {},
            el('button.secondary', { type: 'button', 'data-edit-router': r.name, onclick: () => edit(r) }, 'Edit…'),
            el('button.danger', { type: 'button', 'data-delete-router': r.name, onclick: () => remove(r) }, 'Delete…')))));
      await loadSavings();
    } catch (err) { if (err.status !== 401) message.textContent = `Could not read the routers: ${err.message}`; }
  }

  async function loadSavings() {
    const to = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
    const usage = await api.get(`/api/gateway/usage?from=${from}&to=${to}`);
    clear(savingsBox, el('h2', { style: 'margin-top:0' }, 'Requests, escalations and savings (last 30 days)'),
      el('p.muted', {}, 'Savings: what the routed requests would have cost on each router’s last (largest) candidate, minus what they cost, every attempt counted (negative when escalations cost more than cheaper answers saved). Prices: anvil.gateway.price.*.'),
      table([
        { key: 'router', label: 'Router', render: s => el('code', {}, s.router) },
        { key: 'requests', label: 'Requests', num: true, render: s => fmt.int(s.requests) },
        { key: 'escalations', label: 'Escalations', num: true, render: s => fmt.int(s.escalations) },
        { key: 'escalationRate', label: 'Escalated', num: true, render: s => s.requests ? fmt.pct(s.escalations / s.requests) : '–' },
        { key: 'cost', label: 'Cost', num: true, render: s => String(s.cost) },
        { key: 'baselineCost', label: 'All on largest', num: true, render: s => String(s.baselineCost) },
        { key: 'savings', label: 'Saved', num: true, render: s => el('span', { class: Number(s.savings) < 0 ? 'error' : 'ok' }, String(s.savings)) },
      ], usage.routers, { rowAttrs: s => ({ 'data-router': s.router }) }));
  }

  /** One candidate's row of inputs in the editor. */
  function candidateRow(list, c = {}) {
    const i = list.children.length;
    const input = (name, attrs, v) => el(`input#router-c${i}-${name}`, { ...attrs, value: v == null ? '' : String(v), 'aria-label': `Candidate ${i + 1} ${name}`, 'data-field': name });
    const model = input('model', { list: 'router-models', required: true, maxlength: 64, autocomplete: 'off', placeholder: 'model' }, c.model);
    const row = el('div.form-grid.candidate', {},
      model,
      input('maxPromptTokens', { type: 'number', min: 1, placeholder: 'max prompt tokens' }, c.maxPromptTokens),
      input('maxMaxTokens', { type: 'number', min: 1, placeholder: 'max max_tokens' }, c.maxMaxTokens),
      input('maxComplexity', { type: 'number', min: 0, max: 1, step: 0.05, placeholder: 'max complexity' }, c.maxComplexity),
      el('button.secondary', { type: 'button', 'aria-label': `Remove candidate ${i + 1}`, onclick: () => row.remove() }, 'Remove'));
    row._prices = c;
    list.append(row);
  }

  async function edit(r) {
    const name = el('input#router-name', { required: true, maxlength: 64, autocomplete: 'off', value: r ? r.name : 'auto', disabled: Boolean(r), 'data-param': 'name' });
    const list = el('div#router-candidates');
    for (const c of r ? r.candidates : [{}, {}]) candidateRow(list, c);
    const cascade = r?.cascade;
    const enabled = el('input#router-cascade', { type: 'checkbox', style: 'width:auto', checked: Boolean(cascade?.enabled) });
    const logprob = el('input#router-logprob', { type: 'number', max: 0, step: 0.1, value: cascade?.minMeanLogprob ?? '', placeholder: 'e.g. -1.5' });
    const guard = el('input#router-on-guardrail', { type: 'checkbox', style: 'width:auto', checked: cascade ? cascade.onGuardrail !== false : true });
    const json = el('input#router-on-json', { type: 'checkbox', style: 'width:auto', checked: cascade ? cascade.onJson !== false : true });
    const tenants = el('textarea#router-tenants', { rows: 3, maxlength: 20000, placeholder: 'acme: large' },
      (r?.tenants || []).map(p => `${p.tenant}: ${p.models.join(', ')}`).join('\n'));
    const done = await dialog({
      title: r ? `Edit router ${r.name}` : 'New router',
      body: [
        el('datalist#router-models', {}, models.map(m => el('option', { value: m }))),
        field('Name (the model name callers send)', name),
        el('h3', {}, 'Candidates, cheapest first'),
        el('p.muted', {}, 'A request goes to the first candidate whose limits it meets (empty: no limit); the last takes the rest.'),
        list,
        el('div.actions', {}, el('button.secondary#router-add-candidate', { type: 'button', onclick: () => candidateRow(list) }, 'Add candidate')),
        el('h3', {}, 'Cascade'),
        el('div.field', {}, el('label', { for: enabled.id }, enabled, ' Check a cheaper answer and escalate to the last candidate when it fails')),
        field('Least mean token log-probability (empty: not checked)', logprob),
        el('div.field', {}, el('label', { for: guard.id }, guard, ' Escalate when the output guardrails would withhold it')),
        el('div.field', {}, el('label', { for: json.id }, json, ' Escalate when the request asked for JSON and it is not')),
        field('Tenant policies (one per line: tenant: model, model)', tenants),
      ],
      confirmLabel: r ? 'Save router' : 'Create router',
      onConfirm: async () => {
        const candidates = [...list.children].map(row => {
          const v = (f) => row.querySelector(`[data-field="${f}"]`).value;
          const c = { model: v('model').trim(), maxPromptTokens: intOrNull(v('maxPromptTokens')), maxMaxTokens: intOrNull(v('maxMaxTokens')), maxComplexity: intOrNull(v('maxComplexity')) };
          const prior = row._prices;
          if (prior.expectedTtftMs != null) c.expectedTtftMs = prior.expectedTtftMs;
          if (prior.expectedTpotMs != null) c.expectedTpotMs = prior.expectedTpotMs;
          return c;
        });
        const body = { candidates, tenants: parseTenants(tenants.value) };
        if (enabled.checked || cascade) {
          body.cascade = { enabled: enabled.checked, minMeanLogprob: intOrNull(logprob.value), onGuardrail: guard.checked, onJson: json.checked };
        }
        const routerName = name.value.trim();
        if (!routerName) throw new Error('Give the router a name.');
        return api.put(`/api/routers/${api.seg(routerName)}`, body);
      },
    });
    if (done) { message.textContent = `Router ${done.name} saved: requests naming "${done.name}" are routed now.`; await load(); }
  }

  async function remove(r) {
    const done = await dialog({
      title: `Delete router ${r.name}?`,
      body: el('p.notice#router-delete-effect', {}, `Requests naming "${r.name}" get 404 model_not_found once this server's routers are re-read (at once here, within anvil.routing.refresh-ms on other nodes). Its usage rows and savings stay in the report.`),
      confirmLabel: 'Delete router',
      danger: true,
      onConfirm: async () => { await api.del(`/api/routers/${api.seg(r.name)}`); return true; },
    });
    if (done) { message.textContent = `Router ${r.name} deleted.`; await load(); }
  }

  load();
  const timer = setInterval(() => { if (!document.getElementById('dialog').open) load(); }, 10000);
  return () => clearInterval(timer);
}
