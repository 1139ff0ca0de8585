// Batches: every key's batches as operators see them (/api/batches: status, counts, owner; cancel), and the Batch API
// as a client calls it (/v1/files, /v1/batches: the console's own caller, or the API key typed in, which a server that
// requires keys needs to create one). Contents stay with the owning key: a batch's output is read through /v1 as its
// owner. A JSONL file uploaded
// and a batch created from it; the list with status, request counts and times; one batch's progress (lines answered
// and failed of the total, its rate), its output and error files shown line by line and downloadable, and
// cancelling an unfinished batch with a confirmation.
import * as api from './api.js';
import { badge, clear, dialog, el, field, fmt, showError, table } from './ui.js';

export const TITLE = 'Batches';
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];

const at = (seconds) => seconds == null ? '–' : fmt.time(new Date(seconds * 1000).toISOString());
const done = (b) => b.request_counts.completed + b.request_counts.failed;

function progress(b) {
  const total = b.request_counts.total || 0;
  return el('progress', { max: String(Math.max(total, 1)), value: String(done(b)), 'aria-label': `${done(b)} of ${total} lines` });
}

export function mount(view) {
  const message = el('p.status-line#batches-message', { 'aria-live': 'polite' });
  const listBox = el('div.panel#batches-list');
  const detail = el('div.panel#batch-detail');
  const key = el('input#batch-api-key', { type: 'password', autocomplete: 'off', maxlength: 200, placeholder: 'anv-… (optional)' });
  key.addEventListener('change', () => { selected = null; loadList(); });
  // /v1 as the admin's own caller, or as the typed-in key's client; quiet: a 401 is /v1's, not the admin session's.
  const auth = () => ({ quiet: true, authorization: key.value.trim() ? `Bearer ${key.value.trim()}` : undefined });
  // No key typed in: the operators' view of every key's batches; a key: that key's own, as its client sees them.
  const operator = () => !key.value.trim();
  const batchPath = (id) => operator() ? `/api/batches/${api.seg(id)}` : `/v1/batches/${api.seg(id)}`;
  const owner = (b) => !b.owner ? '–' : b.owner.key_id == null ? 'no key' : `${b.owner.tenant} (key ${b.owner.key_id})`;
  view.append(el('h1', {}, 'Batches'), message,
    el('div.panel', {}, field('API key', key, 'Empty: every key’s batches (new ones are the console’s own caller’s; a server that requires keys needs a key to create one); a key: the batches it created, outputs included')),
    el('div.cols', {}, el('div', {}, createForm(), listBox), detail));
  let selected = decodeURIComponent((location.hash.match(/^#\/batches\/([^/]+)/) || [])[1] || '') || null;
  const seen = new Map(); // batch id → [{t, done}] of this page's polls, for the rate

  function createForm() {
    const file = el('input#batch-file', { type: 'file', accept: '.jsonl,application/jsonl,text/plain', required: true, 'data-param': 'file' });
    const endpoint = el('select#batch-endpoint', { 'data-param': 'endpoint' }, ENDPOINTS.map(e => el('option', { value: e }, e)));
    const error = el('p.error#batch-error', { role: 'alert' });
    const submit = el('button#batch-submit', { type: 'submit' }, 'Upload and create batch');
    const form = el('form.panel#batch-form', { novalidate: true },
      el('h2', { style: 'margin-top:0' }, 'New batch'),
      el('p.muted', {}, 'A JSONL file, one request a line: {"custom_id", "method": "POST", "url", "body"}, every url the endpoint below. The lines run at low priority beside live traffic.'),
      el('div.form-grid', {}, field('Input file (JSONL)', file), field('Endpoint', endpoint)), error,
      el('div.actions', {}, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      if (!file.files.length) { error.textContent = 'Choose a JSONL file first.'; return; }
      submit.disabled = true;
      try {
        const data = new FormData();
        data.append('purpose', 'batch');
        data.append('file', file.files[0]);
        const uploaded = await api.form('/v1/files', data, auth());
        const batch = await api.post('/v1/batches', { input_file_id: uploaded.id, endpoint: endpoint.value, completion_window: '24h' }, auth());
        message.textContent = `Batch ${batch.id} created from ${uploaded.filename} (${fmt.bytes(uploaded.bytes)}).`;
        form.reset();
        select(batch.id);
      } catch (err) { showError(form, err, error); }
      finally { submit.disabled = false; }
    });
    return form;
  }

  async function loadList() {
    try {
      const { data } = operator() ? await api.get('/api/batches?limit=100') : await api.get('/v1/batches?limit=100', auth());
      clear(listBox, el('h2', { style: 'margin-top:0' }, 'Batches'), table([
        { key: 'id', label: 'Batch', render: b => el('button.link', { type: 'button', 'aria-pressed': String(b.id === selected), onclick: () => select(b.id) }, b.id) },
        { key: 'status', label: 'Status', render: b => badge(b.status) },
        ...(operator() ? [{ key: 'owner', label: 'Owner', render: owner }] : []),
        { key: 'counts', label: 'Answered / failed / total', num: true, render: b => `${b.request_counts.completed} / ${b.request_counts.failed} / ${b.request_counts.total}` },
        { key: 'created', label: 'Created', render: b => at(b.created_at) },
        { key: 'completed', label: 'Ended', render: b => at(b.completed_at ?? b.cancelled_at ?? b.failed_at ?? b.expired_at) },
      ], data, { rowAttrs: b => ({ 'data-batch': b.id, class: b.id === selected ? 'selected' : null }) }));
      if (selected) await loadDetail(); else clear(detail, el('p.muted', {}, 'Open a batch to see its progress and files.'));
    } catch (err) { clear(listBox, el('h2', { style: 'margin-top:0' }, 'Batches'), el('p.error#batches-error', {}, `Could not read the batches: ${err.message}`)); }
  }

  function select(id) {
    selected = id;
    history.replaceState(null, '', `#/batches/${encodeURIComponent(id)}`);
    loadList();
  }

  /** Lines per second over this page's polls of the batch (null until two polls saw it move). */
  function rate(b) {
    const points = seen.get(b.id) || [];
    points.push({ t: Date.now(), done: done(b) });
    while (points.length > 30) points.shift();
    seen.set(b.id, points);
    const first = points[0];
    const last = points[points.length - 1];
    return last.t > first.t && last.done > first.done ? (last.done - first.done) / ((last.t - first.t) / 1000) : null;
  }

  async function loadDetail() {
    let b;
    try { b = operator() ? await api.get(batchPath(selected)) : await api.get(batchPath(selected), auth()); }
    catch (err) { if (err.status === 404 || err.status === 403) { clear(detail, el('p.muted', {}, err.message)); return; } throw err; }
    const c = b.request_counts;
    const r = TERMINAL.has(b.status) ? null : rate(b);
    const files = el('div#batch-files');
    clear(detail,
      el('h2', { style: 'margin-top:0' }, `Batch ${b.id}`),
      el('p', {}, badge(b.status), ' ', el('span#batch-progress-text', {}, `${done(b)} of ${c.total} lines done (${c.completed} answered, ${c.failed} failed)`)),
      progress(b),
      el('p.muted#batch-rate', {}, r == null ? (TERMINAL.has(b.status) ? '' : 'Measuring the rate…') : `${r.toFixed(2)} lines/s`),
      table([
        { key: 'k', label: 'Field' }, { key: 'v', label: 'Value' },
      ], [
        { k: 'Endpoint', v: b.endpoint }, { k: 'Input file', v: b.input_file_id },
        ...(b.owner ? [{ k: 'Owner', v: owner(b) }] : []),
        { k: 'Created', v: at(b.created_at) }, { k: 'In progress since', v: at(b.in_progress_at) },
        { k: 'Completed', v: at(b.completed_at) }, { k: 'Cancelled', v: at(b.cancelled_at) },
        { k: 'Expires', v: at(b.expires_at) },
        { k: 'Errors', v: b.errors ? b.errors.data.map(e => e.message).join('; ') : '–' },
      ], { rowAttrs: x => ({ 'data-field': x.k }) }),
      el('div.actions', {},
        TERMINAL.has(b.status) || b.status === 'cancelling' ? null
          : el('button.danger#batch-cancel', { type: 'button', onclick: () => cancel(b) }, 'Cancel batch…'),
        b.output_file_id ? el('button.secondary#batch-show-output', { type: 'button', onclick: () => showFile(files, b.output_file_id, 'Output') }, 'Show output') : null,
        b.error_file_id ? el('button.secondary#batch-show-errors', { type: 'button', onclick: () => showFile(files, b.error_file_id, 'Errors') }, 'Show errors') : null),
      files);
  }

  /** A result file's lines (custom_id, status, answer or error) and a link that saves it. */
  async function showFile(box, id, title) {
    let content;
    try { content = await api.text(`/v1/files/${api.seg(id)}/content`, auth()); }
    catch (err) {
      if (err.status !== 403 && err.status !== 401) throw err;
      clear(box, el('p.notice#batch-file-owner', {}, `${title} belong to the key that created the batch: type that key in above to read them. (${err.message})`));
      return;
    }
    const lines = content.split('\n').filter(Boolean).map(l => JSON.parse(l));
    const url = URL.createObjectURL(new Blob([content], { type: 'application/jsonl' }));
    const answer = (l) => {
      if (l.error) return l.error.message;
      const body = l.response?.body;
      const choice = body?.choices?.[0];
      return choice ? (choice.message?.content ?? choice.text ?? '') : body?.data ? `${body.data.length} embedding(s)` : '';
    };
    clear(box, el('h3', {}, `${title} (${lines.length} lines)`),
      el('div.actions', {}, el('a.button#batch-download', { href: url, download: `${id}.jsonl` }, `Download ${id}.jsonl`)),
      table([
        { key: 'custom_id', label: 'custom_id', render: l => l.custom_id },
        { key: 'status', label: 'Status', num: true, render: l => String(l.response?.status_code ?? l.error?.code ?? '–') },
        { key: 'answer', label: 'Answer or error', render: answer },
      ], lines, { rowAttrs: l => ({ 'data-line': l.custom_id }) }));
  }

  async function cancel(b) {
    const ok = await dialog({
      title: `Cancel batch ${b.id}?`,
      body: el('p.notice#batch-cancel-effect', {}, 'The line in progress ends, no further line starts; what was answered stays in the output file.'),
      confirmLabel: 'Cancel batch',
      danger: true,
      onConfirm: () => operator() ? api.post(`${batchPath(b.id)}/cancel`, {}) : api.post(`${batchPath(b.id)}/cancel`, {}, auth()),
    });
    if (ok) { message.textContent = `Batch ${b.id} is ${ok.status}.`; await loadList(); }
  }

  loadList();
  const timer = setInterval(() => { if (!document.getElementById('dialog').open) loadList(); }, 2000);
  return () => clearInterval(timer);
}
