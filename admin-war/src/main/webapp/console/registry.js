// Registry: models and versions, registering a version from a file on the server, stage changes and blue-green
// switches (each with a required reason and a confirmation saying what happens to traffic), and the stage history.
import * as api from './api.js';
import { anyInProgress, loadsTable } from './loads.js';
import { badge, clear, dialog, el, field, fmt, showError, table } from './ui.js';

export const TITLE = 'Registry';

/** The transitions the registry allows (StageChangeRequest's documentation). */
const NEXT = {
  NONE: ['STAGING', 'PRODUCTION', 'ARCHIVED'],
  STAGING: ['PRODUCTION', 'ARCHIVED', 'NONE'],
  PRODUCTION: ['ARCHIVED', 'STAGING'],
  ARCHIVED: ['STAGING'],
};

function trafficEffect(model, version, from, to, production) {
  const ref = `${model}@${version}`;
  if (to === 'PRODUCTION') {
    return production && production !== version
      ? `All new requests for '${model}' will go to ${version} once it is loaded. ${model}@${production}, which serves them now, is ARCHIVED: it finishes the requests in flight and is unloaded (use "Switch traffic" to keep it loaded as a standby instead).`
      : `${ref} will serve every request for '${model}'.`;
  }
  if (from === 'PRODUCTION') {
    return `${ref} stops serving '${model}': requests for the name get 404 until another version is promoted (requests in flight finish). Pinned requests (${ref}) still work unless it is ARCHIVED.`;
  }
  if (to === 'ARCHIVED') return `${ref} will no longer serve anything, not even pinned requests (${ref}).`;
  return `Traffic for '${model}' does not change; ${ref} can be pinned as ${ref}.`;
}

export function mount(view) {
  const modelsBox = el('div.panel#registry-models');
  const detail = el('div#registry-detail');
  const message = el('p.status-line#registry-message', { 'aria-live': 'polite' });
  view.append(el('h1', {}, 'Registry'), message, el('div.cols', {}, el('div', {}, modelsBox, registerPanel()), detail));
  let selected = decodeURIComponent((location.hash.match(/^#\/registry\/([^/]+)/) || [])[1] || '');
  let production = null;
  let loadsTimer = null;
  let followLoads = 0;
  const loadsBox = el('div.panel#registry-loads', { hidden: true });

  /**
   * The loads of the selected model's versions (a promotion or a switch loads one), polled while one runs, and
   * `follow` more times after an action (its load may start a moment after the answer).
   */
  async function pollLoads(follow = 0) {
    clearTimeout(loadsTimer);
    const name = selected;
    try {
      const { loads } = await api.get('/api/serving/versions?since=' + Date.now());
      const mine = loads.filter(l => l.model === name);
      loadsBox.hidden = mine.length === 0;
      clear(loadsBox, el('h2', { style: 'margin-top:0' }, `Loads of ${name}`), loadsTable(mine));
      if (anyInProgress(mine)) loadsTimer = setTimeout(() => pollLoads(follow), 1000);
      else if (follow > 0) loadsTimer = setTimeout(() => pollLoads(follow - 1), 1000);
    } catch (err) {
      if (err.status !== 401) clear(loadsBox, el('p.error', {}, `Could not read the loads: ${err.message}`));
    }
  }

  async function loadModels() {
    try {
      const { data } = await api.get('/api/registry/models');
      if (!selected && data.length) selected = data[0].name;
      clear(modelsBox, el('h2', { style: 'margin-top:0' }, 'Models'), table([
        { key: 'name', label: 'Model', render: m => el('button.link', { type: 'button', onclick: () => select(m.name), 'aria-pressed': String(m.name === selected) }, m.name) },
        { key: 'productionVersion', label: 'Production', render: m => m.productionVersion || '–' },
        { key: 'versionCount', label: 'Versions', num: true },
        { key: 'owner', label: 'Owner' },
      ], data, { rowAttrs: m => ({ class: m.name === selected ? 'selected' : null, 'data-model': m.name }) }));
      if (selected) await loadDetail();
    } catch (err) {
      if (err.status !== 401) message.textContent = `Could not list the models: ${err.message}`;
    }
  }

  function select(name) {
    selected = name;
    history.replaceState(null, '', `#/registry/${encodeURIComponent(name)}`);
    loadModels();
  }

  async function loadDetail() {
    const name = selected;
    const [versions, model, hist] = await Promise.all([
      api.get(`/api/registry/models/${api.seg(name)}/versions`),
      api.get(`/api/registry/models/${api.seg(name)}`),
      api.get(`/api/registry/models/${api.seg(name)}/history`),
    ]);
    production = model.productionVersion;
    clear(detail,
      el('div.panel', {},
        el('h2', { style: 'margin-top:0' }, `Versions of ${name}`),
        model.description ? el('p', {}, model.description) : null,
        model.tags?.length ? el('p.muted', {}, 'Tags: ' + model.tags.join(', ')) : null,
        table([
          { key: 'version', label: 'Version', render: v => el('strong', {}, v.version) },
          { key: 'stage', label: 'Stage', render: v => badge(v.stage) },
          { key: 'architecture', label: 'Architecture' },
          { key: 'quantization', label: 'Quant.' },
          { key: 'parameterCount', label: 'Params', num: true, render: v => fmt.params(v.parameterCount) },
          { key: 'sizeBytes', label: 'Size', num: true, render: v => fmt.bytes(v.sizeBytes) },
          { key: 'format', label: 'Format' },
          { key: 'sha256', label: 'SHA-256', render: v => el('code', { title: v.sha256 }, v.sha256.slice(0, 12) + '…') },
          { key: 'created', label: 'Registered', render: v => el('span', {}, fmt.time(v.createdAt), el('br'), el('span.muted', {}, 'by ' + v.createdBy)) },
          { key: 'actions', label: 'Actions', render: v => actions(name, v) },
        ], versions.data, { rowAttrs: v => ({ 'data-version': v.version }) })),
      loadsBox,
      el('div.panel', {},
        el('h2', { style: 'margin-top:0' }, 'History'),
        el('ol.timeline#registry-history', {}, [...hist.data].reverse().map(t => el('li', {},
          el('time', { datetime: t.at }, fmt.time(t.at)),
          el('strong', {}, t.version), ' ',
          t.from ? el('span', {}, badge(t.from), ' → ', badge(t.to)) : el('span', {}, 'registered as ', badge(t.to)),
          ' by ', t.actor,
          t.reason ? el('div.muted', {}, `“${t.reason}”`) : null)))));
    await pollLoads(followLoads);
    followLoads = 0;
  }

  function actions(model, v) {
    const buttons = [];
    const next = NEXT[v.stage] || [];
    if (next.length) {
      buttons.push(el('button.secondary', { type: 'button', onclick: () => changeStage(model, v), 'aria-label': `Change stage of ${v.version}` }, 'Stage…'));
    }
    if (v.stage !== 'PRODUCTION' && v.stage !== 'ARCHIVED' && production) {
      buttons.push(el('button', { type: 'button', onclick: () => blueGreen(model, v), 'aria-label': `Switch traffic to ${v.version}` }, 'Switch traffic'));
    }
    return el('div.row-actions', {}, buttons);
  }

  async function changeStage(model, v) {
    const select = el('select#stage-target', {}, NEXT[v.stage].map(s => el('option', { value: s }, s)));
    const reason = el('input#stage-reason', { required: true, maxlength: 1000, autocomplete: 'off' });
    const effect = el('p.notice#stage-effect');
    const explain = () => { effect.textContent = trafficEffect(model, v.version, v.stage, select.value, production); };
    select.addEventListener('change', explain);
    explain();
    const result = await dialog({
      title: `Change the stage of ${model}@${v.version}`,
      body: [el('p', {}, 'Now ', badge(v.stage), '.'), field('New stage', select), field('Reason (recorded in the history)', reason), effect],
      confirmLabel: 'Change stage',
      danger: v.stage === 'PRODUCTION' || select.value === 'ARCHIVED',
      onConfirm: async () => {
        if (!reason.value.trim()) { reason.focus(); throw new Error('A reason is required: it is recorded in the history.'); }
        return api.post(`/api/registry/models/${api.seg(model)}/versions/${api.seg(v.version)}/stage`,
          { stage: select.value, reason: reason.value.trim() });
      },
    });
    if (result) { message.textContent = `${model}@${v.version} is now ${select.value}.`; followLoads = 5; await loadModels(); }
  }

  async function blueGreen(model, v) {
    const reason = el('input#switch-reason', { required: true, maxlength: 1000, autocomplete: 'off' });
    const result = await dialog({
      title: `Switch ${model} to ${v.version}`,
      body: [
        el('p.notice#switch-effect', {}, `All new requests for '${model}' will be served by ${v.version} at once`,
          ` (it is loaded first if it is not). ${model}@${production}, serving them now, moves to STAGING and stays loaded`,
          ' as the standby: switching back is the same action on it. Requests already running finish on the version they started on.'),
        field('Reason (recorded in the history)', reason)],
      confirmLabel: `Switch traffic to ${v.version}`,
      onConfirm: async () => {
        if (!reason.value.trim()) { reason.focus(); throw new Error('A reason is required: it is recorded in the history.'); }
        return api.post(`/api/registry/models/${api.seg(model)}/switch`, { version: v.version, reason: reason.value.trim() });
      },
    });
    if (result) { message.textContent = `${model} now serves ${result.serving}; ${result.standby || 'no version'} is the standby.`; followLoads = 5; await loadModels(); }
  }

  function registerPanel() {
    const model = el('input#register-model', { required: true, maxlength: 128, autocomplete: 'off', 'data-param': 'name' });
    const version = el('input#register-version', { required: true, maxlength: 64, placeholder: '1.0.0', autocomplete: 'off', 'data-param': 'version' });
    const path = el('input#register-path', { required: true, maxlength: 4096, placeholder: '/models/model.gguf', autocomplete: 'off', 'data-param': 'path' });
    const format = el('select#register-format', { 'data-param': 'format' },
      el('option', { value: '' }, 'Detect (GGUF)'), el('option', { value: 'GGUF' }, 'GGUF'), el('option', { value: 'LLAMA2C' }, 'llama2.c'));
    const sha = el('input#register-sha256', { maxlength: 64, autocomplete: 'off', 'data-param': 'sha256' });
    const description = el('input#register-description', { maxlength: 1000, autocomplete: 'off', 'data-param': 'description' });
    const error = el('p.error#register-error', { role: 'alert' });
    const form = el('form#register-form', { novalidate: true },
      field('Model name', model),
      field('Version', version, 'Semantic version, e.g. 1.2.0'),
      field('File on the server', path, 'Absolute path, inside anvil.registry.artifact-roots when set'),
      field('Format', format),
      field('Expected SHA-256 (optional)', sha, 'Refused if the file differs'),
      field('Description (optional)', description),
      error,
      el('div.actions', {}, el('button#register-submit', { type: 'submit' }, 'Register version')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const name = model.value.trim();
      if (!name) { showError(form, { param: 'name', message: 'A model name is required.' }, error); return; }
      const body = { version: version.value.trim(), path: path.value.trim() };
      if (format.value) body.format = format.value;
      if (sha.value.trim()) body.sha256 = sha.value.trim();
      if (description.value.trim()) body.description = description.value.trim();
      form.querySelector('button').disabled = true;
      try {
        const v = await api.post(`/api/registry/models/${api.seg(name)}/versions`, body);
        showError(form, { message: '' }, error);
        message.textContent = `Registered ${v.model}@${v.version} (${v.architecture}, ${v.quantization}, ${fmt.bytes(v.sizeBytes)}).`;
        form.reset();
        selected = v.model;
        await loadModels();
      } catch (err) {
        if (err.status !== 401) showError(form, err, error);
      } finally {
        form.querySelector('button').disabled = false;
      }
    });
    return el('div', {}, el('div.panel', {}, el('h2', { style: 'margin-top:0' }, 'Register a version'), form), uploadPanel());
  }

  function uploadPanel() {
    const model = el('input#upload-model', { required: true, maxlength: 128, autocomplete: 'off', 'data-param': 'name' });
    const version = el('input#upload-version', { required: true, maxlength: 64, placeholder: '1.0.0', autocomplete: 'off', 'data-param': 'version' });
    const file = el('input#upload-file', { type: 'file', accept: '.gguf,application/octet-stream', required: true, 'data-param': 'file' });
    const progress = el('progress#upload-progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
    const progressText = el('span.muted#upload-progress-text', { 'aria-live': 'polite' });
    const error = el('p.error#upload-error', { role: 'alert' });
    const form = el('form#upload-form', { novalidate: true },
      field('Model name', model), field('Version', version),
      field('GGUF file', file, 'Streamed to the server, then checked as a registration by path is'),
      el('div', {}, progress, ' ', progressText),
      error, el('div.actions', {}, el('button#upload-submit', { type: 'submit' }, 'Upload and register')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const name = model.value.trim();
      if (!name) { showError(form, { param: 'name', message: 'A model name is required.' }, error); return; }
      if (!file.files.length) { showError(form, { param: 'file', message: 'Choose a GGUF file.' }, error); return; }
      const chosen = file.files[0];
      const button = form.querySelector('button');
      button.disabled = true;
      progress.value = 0;
      try {
        const v = await api.upload(`/api/registry/models/${api.seg(name)}/versions/${api.seg(version.value.trim())}/file`, chosen,
          (loaded, total) => { progress.value = Math.round(100 * loaded / total); progressText.textContent = `${fmt.bytes(loaded)} of ${fmt.bytes(total)}`; });
        progress.value = 100;
        showError(form, { message: '' }, error);
        message.textContent = `Uploaded and registered ${v.model}@${v.version} (${v.architecture}, ${v.quantization}, ${fmt.bytes(v.sizeBytes)}).`;
        form.reset();
        selected = v.model;
        await loadModels();
      } catch (err) {
        if (err.status !== 401) showError(form, err, error);
      } finally {
        button.disabled = false;
      }
    });
    return el('div.panel#registry-upload', {}, el('h2', { style: 'margin-top:0' }, 'Upload a model file'), form);
  }

  loadModels();
  return () => clearTimeout(loadsTimer);
}
