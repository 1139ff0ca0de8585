// Small DOM helpers: elements built from data (text is always text, never parsed as HTML), formatting, dialogs.

/** el('tag.class#id', {attrs}, ...children): strings become text nodes; attributes 'on*' take listeners. */
export function el(spec, attrs = {}, ...children) {
  const [, tag, rest] = /^([a-z0-9]+)(.*)$/i.exec(spec);
  const node = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') node.classList.add(part.slice(1)); else node.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(node, ...children) { node.replaceChildren(); append(node, children); return node; }

export function badge(value) { return el('span.badge.' + String(value).replace(/[^A-Z_]/gi, ''), {}, value); }

export function table(columns, rows, { caption, rowAttrs } = {}) {
  return el('div.table-wrap', {},
    el('table', {},
      caption ? el('caption.muted', { style: 'text-align:left' }, caption) : null,
      el('thead', {}, el('tr', {}, columns.map(c => el('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      el('tbody', {}, rows.length === 0
        ? el('tr', {}, el('td.muted', { colspan: columns.length }, 'Nothing yet.'))
        : rows.map(r => el('tr', rowAttrs ? rowAttrs(r) : {},
            columns.map(c => el('td', { class: c.num ? 'num' : null, 'data-col': c.key }, c.render ? c.render(r) : r[c.key] ?? '')))))));
}

export const fmt = {
  num(v, digits = 1) { return v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits); },
  int(v) { return v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en'); },
  pct(v) { return v === null || v === undefined ? '–' : (100 * v).toFixed(1) + ' %'; },
  ms(v) { return v === null || v === undefined ? '–' : (v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v.toFixed(1) + ' ms'); },
  bytes(v) {
    if (v === null || v === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0; let x = v;
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return (i === 0 ? x : x.toFixed(1)) + ' ' + units[i];
  },
  params(v) {
    if (!v) return '–';
    return v >= 1e9 ? (v / 1e9).toFixed(1) + ' B' : v >= 1e6 ? (v / 1e6).toFixed(1) + ' M' : v >= 1e3 ? (v / 1e3).toFixed(1) + ' K' : String(v);
  },
  time(iso) { return iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }) : '–'; },
};

/**
 * A modal confirmation (native <dialog>: focus trapped, Escape cancels). `body` is a node or nodes, which may hold
 * inputs; `onConfirm` runs on confirm and may throw an Error whose message is shown in the dialog (it stays open).
 * Resolves to onConfirm's result, or null when cancelled.
 */
export function dialog({ title, body, confirmLabel = 'Confirm', danger = false, onConfirm }) {
  const d = document.getElementById('dialog');
  const form = document.getElementById('dialog-form');
  const confirm = document.getElementById('dialog-confirm');
  const cancel = document.getElementById('dialog-cancel');
  const error = document.getElementById('dialog-error');
  document.getElementById('dialog-title').textContent = title;
  clear(document.getElementById('dialog-body'), body);
  error.textContent = '';
  confirm.textContent = confirmLabel;
  confirm.className = danger ? 'danger' : '';
  confirm.disabled = false;
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener('submit', submit);
      cancel.removeEventListener('click', dismiss);
      d.removeEventListener('cancel', dismiss);
      if (d.open) d.close();
      resolve(value);
    };
    const dismiss = (e) => { e.preventDefault(); done(null); };
    const submit = async (e) => {
      e.preventDefault();
      confirm.disabled = true;
      error.textContent = '';
      try { done(await onConfirm()); } catch (err) { error.textContent = err.message; confirm.disabled = false; }
    };
    form.addEventListener('submit', submit);
    cancel.addEventListener('click', dismiss);
    d.addEventListener('cancel', dismiss);
    d.showModal();
    const first = d.querySelector('#dialog-body input, #dialog-body select, #dialog-body textarea');
    (first || confirm).focus();
  });
}

/** A labelled form field; `input` is the control (its id ties the label and the error message to it). */
export function field(label, input, hint) {
  const id = input.id;
  const error = el('p.error', { id: id + '-error', 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', (hint ? id + '-hint ' : '') + id + '-error');
  return el('div.field', {}, el('label', { for: id }, label), input, hint ? el('span.hint', { id: id + '-hint' }, hint) : null, error);
}

/** Shows an API error next to the field it names (`param`), else in `fallback`. */
export function showError(form, err, fallback) {
  for (const bad of form.querySelectorAll('[aria-invalid="true"]')) bad.removeAttribute('aria-invalid');
  for (const msg of form.querySelectorAll('.field .error')) msg.textContent = '';
  const target = err.param ? form.querySelector(`[data-param="${CSS.escape(err.param)}"]`) : null;
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    document.getElementById(target.id + '-error').textContent = err.message;
    target.focus();
  } else {
    fallback.textContent = err.message;
  }
}
