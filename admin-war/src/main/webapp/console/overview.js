// Overview: every loaded version's live state and the last minutes of serving, from GET /api/serving/versions
// (an in-memory time series on the server). Polls once per sampling interval, asking only for newer samples.
import * as api from './api.js';
import { timeChart } from './charts.js';
import { anyInProgress, loadsTable } from './loads.js';
import { badge, clear, el, fmt, table } from './ui.js';

export const TITLE = 'Overview';

export function mount(view) {
  const status = el('p.muted.status-line', { 'aria-live': 'polite' });
  const tableBox = el('div.panel#overview-versions');
  const loadsBox = el('div.panel#overview-loads', { hidden: true });
  const charts = {
    throughput: timeChart('Throughput', 'tok/s'),
    ttft: timeChart('Time to first token (p50, p99)', 'ms'),
    queue: timeChart('Queue length', '', { digits: 0 }),
    kv: timeChart('KV cache in use', '%'),
    errors: timeChart('Errors and 503 refusals', '%'),
  };
  view.append(
    el('h1', {}, 'Overview'),
    status,
    tableBox,
    loadsBox,
    el('div.grid#overview-charts', {}, Object.values(charts).map(c => c.node)));

  const versions = new Map(); // ref -> {info, samples[]}
  let since = null;
  let windowMs = 600_000;
  let timer = null;
  let stopped = false;
  const controller = new AbortController();

  async function poll() {
    try {
      const answer = await api.get('/api/serving/versions' + (since === null ? '' : `?since=${since}`), { signal: controller.signal });
      windowMs = answer.windowSeconds * 1000;
      const live = new Set();
      for (const v of answer.data) {
        const ref = `${v.model}@${v.version}`;
        live.add(ref);
        const entry = versions.get(ref) || { samples: [] };
        entry.info = v;
        entry.samples.push(...v.samples);
        const oldest = answer.at - windowMs;
        while (entry.samples.length && entry.samples[0].at < oldest) entry.samples.shift();
        versions.set(ref, entry);
        for (const s of v.samples) since = since === null ? s.at : Math.max(since, s.at);
      }
      for (const ref of [...versions.keys()]) if (!live.has(ref)) versions.delete(ref);
      render(answer);
      status.textContent = `Live: one sample every ${answer.intervalSeconds} s, last ${Math.round(answer.windowSeconds / 60)} min kept. Updated ${new Date(answer.at).toLocaleTimeString('en-GB')}.`;
      // While a version loads, its progress bar moves every second; otherwise once per sample.
      schedule(anyInProgress(answer.loads) ? 1000 : answer.intervalSeconds * 1000);
    } catch (err) {
      if (stopped || err.name === 'AbortError' || err.status === 401) return;
      status.textContent = `Could not read the serving state: ${err.message}. Retrying.`;
      schedule(5000);
    }
  }

  function schedule(ms) { if (!stopped) timer = setTimeout(poll, ms); }

  function render(answer) {
    loadsBox.hidden = answer.loads.length === 0;
    clear(loadsBox, el('h2', { style: 'margin-top:0' }, 'Model loads'), loadsTable(answer.loads,
      { caption: 'Versions being loaded on this server, and those loaded in the last 10 minutes.' }));
    const rows = [...versions.values()].map(e => ({ ...e.info, last: e.info.latest }));
    clear(tableBox, el('h2', { style: 'margin-top:0' }, 'Loaded versions'), table([
      { key: 'ref', label: 'Version', render: r => el('strong', {}, `${r.model}@${r.version}`) },
      { key: 'stage', label: 'Stage', render: r => r.stage ? badge(r.stage) : '–' },
      { key: 'state', label: 'Runtime', render: r => el('span', {}, badge(r.state), r.serving ? ' serves its name' : '') },
      { key: 'batch', label: 'Batch', num: true, render: r => r.embedding ? '–' : fmt.int(r.last.batch) },
      { key: 'queue', label: 'Queue', num: true, render: r => fmt.int(r.last.queue) },
      { key: 'kv', label: 'KV used / free', num: true, render: r => r.embedding ? '–' : `${fmt.int(r.last.kvBlocksUsed)} / ${fmt.int(r.last.kvBlocksFree)}` },
      { key: 'tps', label: 'Tokens/s', num: true, render: r => fmt.num(r.last.tokensPerSecond) },
      { key: 'rps', label: 'Requests/s', num: true, render: r => fmt.num(r.last.requestsPerSecond, 2) },
      { key: 'ttft', label: 'TTFT p50 / p99', num: true, render: r => `${fmt.ms(r.last.ttftP50Ms)} / ${fmt.ms(r.last.ttftP99Ms)}` },
      { key: 'tpot', label: 'TPOT p50 / p99', num: true, render: r => `${fmt.ms(r.last.tpotP50Ms)} / ${fmt.ms(r.last.tpotP99Ms)}` },
      { key: 'err', label: 'Errors', num: true, render: r => fmt.pct(r.last.errorRate) },
      { key: '503', label: '503s', num: true, render: r => fmt.pct(r.last.overloadRate) },
      { key: 'breaker', label: 'Breaker', render: r => badge(r.last.breaker) },
    ], rows, { rowAttrs: r => ({ 'data-ref': `${r.model}@${r.version}` }) }));

    // One x axis for all versions: they are sampled together, so their timestamps coincide.
    const times = [...new Set([...versions.values()].flatMap(e => e.samples.map(s => s.at)))].sort((a, b) => a - b);
    const x = times.map(t => t / 1000);
    const column = (e, pick) => {
      const byTime = new Map(e.samples.map(s => [s.at, s]));
      return times.map(t => { const s = byTime.get(t); const v = s ? pick(s, e.info) : null; return v === undefined ? null : v; });
    };
    const entries = [...versions.entries()];
    const per = (pick) => entries.map(([ref, e]) => ({ label: ref, values: column(e, pick) }));
    charts.throughput.update(x, per(s => s.tokensPerSecond));
    charts.ttft.update(x, entries.flatMap(([ref, e]) => [
      { label: `${ref} p50`, values: column(e, s => s.ttftP50Ms) },
      { label: `${ref} p99`, values: column(e, s => s.ttftP99Ms) }]));
    charts.queue.update(x, per(s => s.queue));
    charts.kv.update(x, per((s, info) => info.kvBlocksTotal ? 100 * s.kvBlocksUsed / info.kvBlocksTotal : null));
    charts.errors.update(x, entries.flatMap(([ref, e]) => [
      { label: `${ref} errors`, values: column(e, s => s.errorRate === null ? null : 100 * s.errorRate) },
      { label: `${ref} 503`, values: column(e, s => s.overloadRate === null ? null : 100 * s.overloadRate) }]));
  }

  poll();
  return () => {
    stopped = true;
    controller.abort();
    clearTimeout(timer);
    Object.values(charts).forEach(c => c.destroy());
  };
}
