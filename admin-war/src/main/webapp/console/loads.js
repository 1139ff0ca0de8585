// Model loads (the `loads` of GET /api/serving/versions): each version being loaded, or loaded in the last minutes,
// with its phase and a progress bar of the weight bytes the engine has read. Shown by the overview and the registry.
import { badge, el, fmt, table } from './ui.js';

/** True while any load has not ended: the caller polls faster then. */
export function anyInProgress(loads) { return loads.some(l => l.finishedAt === null); }

export function loadsTable(loads, { caption } = {}) {
  return table([
    { key: 'ref', label: 'Version', render: l => el('strong', {}, `${l.model}@${l.version}`) },
    { key: 'phase', label: 'Phase', render: l => badge(l.phase) },
    { key: 'progress', label: 'Weights read', render: l => el('span', {},
      el('progress', { max: 1000, value: Math.round(1000 * l.fractionRead), 'aria-label': `Weights of ${l.model}@${l.version} read` }), ' ',
      el('span.muted', { 'data-bytes': '' }, `${fmt.pct(l.fractionRead)} · ${fmt.bytes(l.bytesRead)} of ${fmt.bytes(l.bytesTotal)}`)) },
    { key: 'started', label: 'Started', render: l => fmt.time(new Date(l.startedAt).toISOString()) },
    { key: 'took', label: 'Took', num: true, render: l => l.finishedAt === null ? `${fmt.ms(Date.now() - l.startedAt)} so far` : fmt.ms(l.finishedAt - l.startedAt) },
    { key: 'error', label: 'Error', render: l => l.error ? el('span.error', {}, l.error) : '' },
  ], [...loads].reverse(), { caption, rowAttrs: l => ({ 'data-load': `${l.model}@${l.version}`, 'data-phase': l.phase }) });
}
