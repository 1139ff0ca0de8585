// Gateway: tenants and their limits, API keys (the secret shown once, with a copy button; revoke with a
// confirmation), usage by day, tenant and model as a chart and a table, and the audit log with filters and paging.
import * as api from './api.js';
import { timeChart } from './charts.js';
import { badge, clear, dialog, el, field, fmt, showError, table } from './ui.js';

export const TITLE = 'Gateway';
const AUDIT_PAGE = 50;

const optionalInt = (input) => input.value.trim() === '' ? undefined : Number(input.value);

export function mount(view) {
  const message = el('p.status-line#gateway-message', { 'aria-live': 'polite' });
  const tenantsBox = el('div.panel#gateway-tenants');
  const keysBox = el('div.panel#gateway-keys');
  const usageBox = el('div.panel#gateway-usage');
  const auditBox = el('div.panel#gateway-audit');
  view.append(el('h1', {}, 'Gateway'), message,
    el('div.cols', {}, el('div', {}, tenantsBox, tenantForm()), keysBox), usageBox, auditBox);
  let selected = null;

  async function loadTenants() {
    const { data } = await api.get('/api/gateway/tenants');
    if (!selected && data.length) selected = data[0].name;
    clear(tenantsBox, el('h2', { style: 'margin-top:0' }, 'Tenants'), table([
      { key: 'name', label: 'Tenant', render: t => el('button.link', { type: 'button', 'aria-pressed': String(t.name === selected), onclick: () => { selected = t.name; loadTenants(); } }, t.name) },
      { key: 'budget', label: 'Budget', num: true, render: t => t.tokenBudget == null ? 'none' : `${fmt.int(t.tokenBudget)} / ${t.budgetPeriod.toLowerCase()}` },
      { key: 'rpm', label: 'Req/min', num: true, render: t => t.requestsPerMinute ?? '–' },
      { key: 'tpm', label: 'Tok/min', num: true, render: t => t.tokensPerMinute ?? '–' },
      { key: 'concurrent', label: 'Concurrent', num: true, render: t => t.maxConcurrentRequests ?? '–' },
      { key: 'audit', label: 'Audit text', render: t => t.auditText ? 'yes' : 'no' },
      { key: 'actions', label: 'Actions', render: t => el('button.secondary', { type: 'button', 'data-edit-tenant': t.name, 'aria-label': `Edit tenant ${t.name}`, onclick: () => editTenant(t) }, 'Edit…') },
    ], data, { rowAttrs: t => ({ class: t.name === selected ? 'selected' : null, 'data-tenant': t.name }) }));
    await loadKeys();
  }

  async function loadKeys() {
    if (!selected) { clear(keysBox, el('h2', { style: 'margin-top:0' }, 'API keys'), el('p.muted', {}, 'Create a tenant first.')); return; }
    const tenant = selected;
    const { data } = await api.get(`/api/gateway/tenants/${api.seg(tenant)}/keys`);
    const name = el('input#key-name', { required: true, maxlength: 128, autocomplete: 'off', 'data-param': 'name' });
    const models = el('input#key-models', { maxlength: 2000, autocomplete: 'off', placeholder: 'all models', 'data-param': 'allowedModels' });
    const error = el('p.error#key-error', { role: 'alert' });
    const form = el('form#key-form', { novalidate: true }, el('div.form-grid', {},
      field('Key name', name), field('Allowed models (comma-separated)', models, 'Empty: every model')),
      error, el('div.actions', {}, el('button#key-submit', { type: 'submit' }, 'Create key')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim() };
      const allowed = models.value.split(',').map(s => s.trim()).filter(Boolean);
      if (allowed.length) body.allowedModels = allowed;
      try {
        const key = await api.post(`/api/gateway/tenants/${api.seg(tenant)}/keys`, body);
        await showSecret(key);
        await loadKeys();
      } catch (err) { if (err.status !== 401) showError(form, err, error); }
    });
    clear(keysBox, el('h2', { style: 'margin-top:0' }, `API keys of ${tenant}`), table([
      { key: 'name', label: 'Name' },
      { key: 'prefix', label: 'Prefix', render: k => el('code', {}, k.prefix + '…') },
      { key: 'models', label: 'Models', render: k => k.allowedModels?.length ? k.allowedModels.join(', ') : 'all' },
      { key: 'created', label: 'Created', render: k => fmt.time(k.createdAt) },
      { key: 'state', label: 'State', render: k => k.revokedAt ? el('span', {}, badge('REVOKED'), ' ', fmt.time(k.revokedAt)) : badge('ACTIVE') },
      { key: 'actions', label: 'Actions', render: k => k.revokedAt ? '' : el('button.danger', { type: 'button', 'aria-label': `Revoke key ${k.name}`, onclick: () => revoke(k) }, 'Revoke') },
    ], data, { rowAttrs: k => ({ 'data-key': k.name }) }), el('h3', {}, 'New key'), form);
  }

  /** Budget, period, limits, audit text and version pinning of a tenant, replaced as a whole (PUT). */
  async function editTenant(t) {
    const val = (v) => v === null || v === undefined ? '' : String(v);
    const budget = el('input#edit-budget', { type: 'number', min: 1, value: val(t.tokenBudget), 'data-param': 'tokenBudget' });
    const period = el('select#edit-period', { 'data-param': 'budgetPeriod' },
      el('option', { value: 'DAY', selected: t.budgetPeriod === 'DAY' }, 'per day'), el('option', { value: 'MONTH', selected: t.budgetPeriod === 'MONTH' }, 'per month'));
    const rpm = el('input#edit-rpm', { type: 'number', min: 1, value: val(t.requestsPerMinute), 'data-param': 'requestsPerMinute' });
    const tpm = el('input#edit-tpm', { type: 'number', min: 1, value: val(t.tokensPerMinute), 'data-param': 'tokensPerMinute' });
    const concurrent = el('input#edit-concurrent', { type: 'number', min: 1, value: val(t.maxConcurrentRequests), 'data-param': 'maxConcurrentRequests' });
    const audit = el('input#edit-audit-text', { type: 'checkbox', style: 'width:auto', checked: t.auditText, 'data-param': 'auditText' });
    const pinning = el('input#edit-pinning', { type: 'checkbox', style: 'width:auto', checked: t.allowVersionPinning, 'data-param': 'allowVersionPinning' });
    const form = document.getElementById('dialog-form');
    const done = await dialog({
      title: `Edit tenant ${t.name}`,
      body: [el('p.muted', {}, 'Empty fields mean no limit. The new settings apply to the tenant’s next requests; usage so far counts against the new budget.'),
        el('div.form-grid', {}, field('Token budget', budget, 'Empty: unlimited'), field('Budget period', period),
          field('Requests per minute', rpm), field('Tokens per minute', tpm), field('Concurrent requests', concurrent)),
        el('div.field', {}, el('label', { for: audit.id }, audit, ' Keep request and answer text in the audit log')),
        el('div.field', {}, el('label', { for: pinning.id }, pinning, ' Keys may pin versions (name@version)'))],
      confirmLabel: 'Save tenant',
      onConfirm: async () => {
        try {
          return await api.put(`/api/gateway/tenants/${api.seg(t.name)}`, {
            tokenBudget: optionalInt(budget), budgetPeriod: period.value, requestsPerMinute: optionalInt(rpm),
            tokensPerMinute: optionalInt(tpm), maxConcurrentRequests: optionalInt(concurrent),
            auditText: audit.checked, allowVersionPinning: pinning.checked });
        } catch (err) {
          const marked = err.param && form.querySelector(`[data-param="${CSS.escape(err.param)}"]`);
          if (marked) { showError(form, err, null); throw new Error('Correct the field marked above.'); }
          throw err;
        }
      },
    });
    if (done) { message.textContent = `Tenant ${done.name} saved.`; await loadTenants(); }
  }

  async function showSecret(key) {
    const secret = el('code#key-secret', {}, key.key);
    const copied = el('span.ok#key-copied', { 'aria-live': 'polite' });
    const copy = el('button.secondary#key-copy', { type: 'button', onclick: async () => {
      try { await navigator.clipboard.writeText(key.key); copied.textContent = 'Copied.'; }
      catch { const range = document.createRange(); range.selectNodeContents(secret); getSelection().removeAllRanges(); getSelection().addRange(range); copied.textContent = 'Selected: press Ctrl+C to copy.'; }
    } }, 'Copy');
    await dialog({
      title: `API key ${key.name} for ${key.tenant}`,
      body: [el('p', {}, 'This is the only time the secret is shown: the server keeps only its hash. Copy it now.'),
        el('div.secret', {}, secret, copy), copied],
      confirmLabel: 'Done',
      onConfirm: async () => true,
    });
  }

  async function revoke(k) {
    const done = await dialog({
      title: `Revoke key ${k.name}?`,
      body: el('p.notice#revoke-effect', {}, `Requests with ${k.prefix}… get 401 from now on. Revoking is permanent: create a new key to restore access.`),
      confirmLabel: 'Revoke key',
      danger: true,
      onConfirm: () => api.del(`/api/gateway/keys/${k.id}`),
    });
    if (done) { message.textContent = `Key ${k.name} (${k.prefix}…) is revoked.`; await loadKeys(); }
  }

  function tenantForm() {
    const name = el('input#tenant-name', { required: true, maxlength: 128, autocomplete: 'off', 'data-param': 'name' });
    const budget = el('input#tenant-budget', { type: 'number', min: 1, autocomplete: 'off', 'data-param': 'tokenBudget' });
    const period = el('select#tenant-period', { 'data-param': 'budgetPeriod' }, el('option', { value: 'MONTH' }, 'per month'), el('option', { value: 'DAY' }, 'per day'));
    const rpm = el('input#tenant-rpm', { type: 'number', min: 1, autocomplete: 'off', 'data-param': 'requestsPerMinute' });
    const tpm = el('input#tenant-tpm', { type: 'number', min: 1, autocomplete: 'off', 'data-param': 'tokensPerMinute' });
    const auditText = el('input#tenant-audit-text', { type: 'checkbox', style: 'width:auto', 'data-param': 'auditText' });
    const error = el('p.error#tenant-error', { role: 'alert' });
    const form = el('form#tenant-form', { novalidate: true },
      el('div.form-grid', {}, field('Name', name), field('Token budget', budget, 'Empty: unlimited'), field('Budget period', period),
        field('Requests per minute', rpm), field('Tokens per minute', tpm)),
      el('div.field', {}, el('label', { for: 'tenant-audit-text' }, auditText, ' Keep request and answer text in the audit log')),
      error, el('div.actions', {}, el('button#tenant-submit', { type: 'submit' }, 'Create tenant')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), budgetPeriod: period.value, tokenBudget: optionalInt(budget),
        requestsPerMinute: optionalInt(rpm), tokensPerMinute: optionalInt(tpm), auditText: auditText.checked };
      try {
        const t = await api.post('/api/gateway/tenants', body);
        message.textContent = `Tenant ${t.name} created.`;
        form.reset();
        selected = t.name;
        await loadTenants();
      } catch (err) { if (err.status !== 401) showError(form, err, error); }
    });
    return el('div.panel', {}, el('h2', { style: 'margin-top:0' }, 'New tenant'), form);
  }

  // Usage: tokens by day (chart) and every line (table).
  const chart = timeChart('Tokens by day', 'tok', { digits: 0 });
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 29 * 86400_000).toISOString().slice(0, 10);
  const from = el('input#usage-from', { type: 'date', value: monthAgo, 'data-param': 'from' });
  const to = el('input#usage-to', { type: 'date', value: today, 'data-param': 'to' });
  const usageError = el('p.error', { role: 'alert' });
  const usageForm = el('form#usage-form', {}, el('div.form-grid', {}, field('From (UTC day)', from), field('To', to)),
    usageError, el('div.actions', {}, el('button', { type: 'submit' }, 'Show usage')));
  const usageTable = el('div#usage-table');
  usageForm.addEventListener('submit', (e) => { e.preventDefault(); loadUsage(); });
  clear(usageBox, el('h2', { style: 'margin-top:0' }, 'Usage'), usageForm, chart.node, usageTable);

  async function loadUsage() {
    try {
      const u = await api.get(`/api/gateway/usage?from=${api.seg(from.value)}&to=${api.seg(to.value)}`);
      const days = [];
      for (let d = new Date(u.from + 'T00:00:00Z'); d <= new Date(u.to + 'T00:00:00Z'); d = new Date(d.getTime() + 86400_000)) days.push(d.toISOString().slice(0, 10));
      const tenants = [...new Set(u.data.map(l => l.tenant ?? '(anonymous)'))];
      chart.update(days.map(d => Date.parse(d + 'T00:00:00Z') / 1000), tenants.map(t => ({
        label: t,
        values: days.map(d => u.data.filter(l => (l.tenant ?? '(anonymous)') === t && l.day === d).reduce((s, l) => s + l.totalTokens, 0)),
      })));
      clear(usageTable, table([
        { key: 'day', label: 'Day' },
        { key: 'tenant', label: 'Tenant', render: l => l.tenant ?? '(anonymous)' },
        { key: 'model', label: 'Model' },
        { key: 'requests', label: 'Requests', num: true, render: l => fmt.int(l.requests) },
        { key: 'promptTokens', label: 'Prompt tokens', num: true, render: l => fmt.int(l.promptTokens) },
        { key: 'completionTokens', label: 'Completion tokens', num: true, render: l => fmt.int(l.completionTokens) },
        { key: 'cost', label: 'Cost', num: true, render: l => l.cost === null ? '–' : String(l.cost) },
      ], u.data));
    } catch (err) { if (err.status !== 401) showError(usageForm, err, usageError); }
  }

  // Audit: filters, newest first, paged by id.
  const actor = el('input#audit-actor', { maxlength: 200, autocomplete: 'off', 'data-param': 'actor' });
  const tenant = el('input#audit-tenant', { maxlength: 128, autocomplete: 'off', 'data-param': 'tenant' });
  const action = el('input#audit-action', { maxlength: 100, autocomplete: 'off', placeholder: 'e.g. admin.request', 'data-param': 'action' });
  const auditError = el('p.error', { role: 'alert' });
  const auditForm = el('form#audit-form', {}, el('div.form-grid', {}, field('Actor', actor, 'User name or key:PREFIX'), field('Tenant', tenant), field('Action', action)),
    auditError, el('div.actions', {}, el('button', { type: 'submit' }, 'Filter')));
  const auditRows = el('div#audit-rows');
  const pager = el('div.actions');
  const pages = []; // the `before` id of each page shown so far
  auditForm.addEventListener('submit', (e) => { e.preventDefault(); pages.length = 0; loadAudit(null); });
  clear(auditBox, el('h2', { style: 'margin-top:0' }, 'Audit log'), auditForm, auditRows, pager);

  async function loadAudit(before) {
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (tenant.value.trim()) q.set('tenant', tenant.value.trim());
    if (action.value.trim()) q.set('action', action.value.trim());
    if (before !== null) q.set('before', String(before));
    try {
      const { data } = await api.get(`/api/gateway/audit?${q}`);
      clear(auditRows, table([
        { key: 'occurredAt', label: 'When', render: a => fmt.time(a.occurredAt) },
        { key: 'actor', label: 'Actor' },
        { key: 'tenant', label: 'Tenant', render: a => a.tenant ?? '–' },
        { key: 'action', label: 'Action' },
        { key: 'target', label: 'Target', render: a => el('code', {}, a.target ?? '') },
        { key: 'status', label: 'Status', num: true, render: a => a.status ?? '–' },
      ], data, { rowAttrs: a => ({ 'data-audit-id': a.id }) }));
      clear(pager,
        el('span.muted#audit-page', {}, `Page ${pages.length + 1}`),
        el('button.secondary#audit-newer', { type: 'button', disabled: before === null, onclick: () => { pages.pop(); loadAudit(pages.length ? pages[pages.length - 1] : null); } }, 'Newer'),
        el('button.secondary#audit-older', { type: 'button', disabled: data.length < AUDIT_PAGE, onclick: () => { pages.push(data[data.length - 1].id); loadAudit(pages[pages.length - 1]); } }, 'Older'));
    } catch (err) { if (err.status !== 401) showError(auditForm, err, auditError); }
  }

  loadTenants().catch(err => { if (err.status !== 401) message.textContent = `Could not read the gateway: ${err.message}`; });
  loadUsage();
  loadAudit(null);
  return () => chart.destroy();
}
