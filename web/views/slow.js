// slow.js - the Slow requests view (chart 4.4, user story US-2): the
// requests at or above a threshold under the filter bar, with where their
// time went by phase, grouped by endpoint, tool or service, their trend,
// the spike alerts and the slow-operation statistics per type.
//
// Requests (docs/API.md), each once per load:
//   /api/v1/slow-requests            the table, the groups, the trend
//   /api/v1/slow-requests/alerts     the spikes (stored by the server's
//                                    background check; asked alongside)
//   /api/v1/slow-operations/stats    per operation type
// Changing the grouping asks for the groups alone (limit=1).
//
// The threshold box is the filter bar's Min duration (min_duration_ms,
// which the API takes as its threshold), so it is in the URL.  The column
// sorted by and the grouping are kept for the session (module state).

import { h, clear } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiParams } from '../lib/state.js';
import { fmtDuration, fmtTime, fmtIso, countedText } from '../lib/format.js';
import { panel } from '../lib/panel.js';
import { drawTimeChart } from '../lib/charts/timechart.js';
import { showTip, hideTip, tipContent } from '../lib/charts/tooltip.js';
import { fmtCount, fmtNum } from '../lib/charts/units.js';
import { traceLink } from '../lib/tracelink.js';
import { resourceText } from '../lib/resources.js';

const LIMIT = 100;
const TREND_COLOR = '#f0565c';

// The API's phases, in its order; the same colours in the legend and bars.
export const PHASES = [
  { key: 'auth', label: 'Auth', color: '#b26ee0' },
  { key: 'rate_limit', label: 'Rate limit', color: '#e070b0' },
  { key: 'plugins', label: 'Plugins', color: '#c98a5a' },
  { key: 'tool_execution', label: 'Tool execution', color: '#4cc3d9' },
  { key: 'db', label: 'DB', color: '#4e9af1' },
  { key: 'llm', label: 'LLM', color: '#e8a33d' },
  { key: 'serialization', label: 'Serialization', color: '#d4c043' },
  { key: 'external', label: 'External', color: '#3fb68b' },
  { key: 'other', label: 'Other', color: '#8c9bab' },
];

const GROUPS = [
  { id: 'endpoint', label: 'Endpoint' },
  { id: 'tool', label: 'Tool' },
  { id: 'service', label: 'Service' },
];

const STATUS_LABELS = { ok: 'OK', error: 'Error', timeout: 'Timeout' };

// The largest phase of a request: {phase, ms, share} or null.
function mainPhase(r) {
  if (!r.phases) return null;
  let best = null;
  for (const p of PHASES) {
    const ms = r.phases[`${p.key}_ms`] || 0;
    if (!best || ms > best.ms) best = { phase: p, ms };
  }
  const total = r.phases_total_ms || r.duration_ms || 0;
  return best && total > 0 ? { ...best, share: best.ms / total } : null;
}

const byText = (a, b) => a.localeCompare(b);
const byNum = (a, b) => a - b;

// value(r) is what a column sorts by; null sorts last either way.
const COLUMNS = [
  { key: 'time', label: 'Time', num: true, left: true, value: (r) => r.start_ms },
  { key: 'service', label: 'Service', value: (r) => r.service || '' },
  { key: 'endpoint', label: 'Endpoint', value: (r) => r.endpoint || r.name || '' },
  { key: 'tool', label: 'Tool', value: (r) => r.tool || null },
  { key: 'status', label: 'Status', value: (r) => STATUS_LABELS[r.status] || r.status || '' },
  { key: 'duration', label: 'Duration', num: true, value: (r) => r.duration_ms },
  { key: 'ratio', label: '× threshold', num: true, value: (r) => r.ratio, title: 'duration / the threshold of its operation type' },
  {
    key: 'phases', label: 'Where the time went', title: 'sorts by the largest phase, then its share',
    value: (r) => mainPhase(r),
    cmp: (a, b) => byText(a.phase.label, b.phase.label) || b.share - a.share,
  },
  { key: 'slow_spans', label: 'Slow spans', num: true, value: (r) => (r.slow_spans || []).length, title: 'spans over their own type\'s threshold (at most 20)' },
  { key: 'resources', label: 'CPU at start', num: true, value: (r) => r.resources?.cpu_utilization ?? null, title: 'its service\'s CPU, memory and pool use nearest the request\'s start (within 2 min)' },
];

// Kept while the page lives: a filter change re-mounts the view.
const prefs = { sortKey: '', desc: true, groupBy: 'endpoint' };

export function mountSlow(el, ctx) {
  const { state, filters, navigate } = ctx;
  const updatedEl = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const countEl = h('span', { class: 'muted', id: 'slow-count' });

  const threshold = h('input', {
    id: 'slow-threshold', type: 'number', min: '0', step: 'any', inputmode: 'decimal',
    class: 'num-input', value: state.filters.min_duration_ms || '', placeholder: 'ms',
    title: 'Requests at or above this duration are listed; empty: the http threshold',
    onchange: (ev) => {
      const v = ev.target.value.trim();
      if (v !== '' && !(Number(v) >= 0)) {
        ev.target.setCustomValidity('a duration in ms, 0 or more');
        ev.target.reportValidity();
        return;
      }
      ev.target.setCustomValidity('');
      navigate({ filters: { min_duration_ms: v }, trace: '', span: '' });
    },
  });
  const csvLink = h('a', { class: 'btn', id: 'slow-csv', download: 'slow-requests.csv', title: 'The listed requests as CSV' }, 'Export CSV');

  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Slow requests'), countEl,
    h('div', { class: 'view-tools' },
      h('label', { class: 'inline-field', for: 'slow-threshold' }, 'Threshold', threshold, h('span', { class: 'muted' }, 'ms')),
      csvLink,
      h('button', { type: 'button', class: 'btn', onclick: () => loadAll() }, 'Refresh'),
      updatedEl)));

  const groupButtons = GROUPS.map((g) => h('button', {
    type: 'button', class: 'seg-btn', dataset: { group: g.id }, 'aria-pressed': prefs.groupBy === g.id ? 'true' : 'false',
    onclick: () => {
      if (prefs.groupBy === g.id) return;
      prefs.groupBy = g.id;
      for (const b of groupButtons) b.setAttribute('aria-pressed', b.dataset.group === g.id ? 'true' : 'false');
      loadGroups();
    },
  }, g.label));

  const panels = {
    table: panel({ id: 'slow-table', chartId: '4.4', title: 'Slow requests', wide: true }),
    groups: panel({
      id: 'slow-groups', title: 'Groups',
      tools: h('div', { class: 'seg', role: 'group', 'aria-label': 'Group by' }, groupButtons),
    }),
    trend: panel({ id: 'slow-trend', title: 'Slow requests over time' }),
    alerts: panel({ id: 'slow-alerts', title: 'Spike alerts' }),
    stats: panel({ id: 'slow-stats', title: 'Slow operations by type' }),
  };
  el.append(h('div', { class: 'overview-grid slow-grid' }, Object.values(panels).map((p) => p.el)));

  const get = (path, params) => apiGet(path, params, { signal: ctx.signal });
  const mainParams = () => apiParams(filters, { limit: String(LIMIT), group_by: prefs.groupBy });
  const csvParams = mainParams();
  csvParams.set('format', 'csv');
  csvLink.setAttribute('href', `/api/v1/slow-requests?${csvParams}`);

  async function loadMain() {
    for (const k of ['table', 'groups', 'trend']) panels[k].loading();
    let data;
    try {
      data = await get('/api/v1/slow-requests', mainParams());
    } catch (err) {
      if (isAbort(err)) throw err;
      for (const k of ['table', 'groups', 'trend']) panels[k].error('Could not load the slow requests.', err);
      countEl.textContent = '';
      return;
    }
    threshold.placeholder = state.filters.min_duration_ms ? 'ms' : String(data.thresholds ? data.thresholds.http_ms : data.min_duration_ms);
    countEl.textContent = `${fmtCount(data.matched)} request${data.matched === 1 ? '' : 's'} at or above ${fmtDuration(data.min_duration_ms)}`
      + `${data.truncated ? ' (more: counted up to the limit)' : ''}`
      + `${data.counted ? ` · ${countedText(data.counted)}` : ''}`;
    drawTable(panels.table, data, ctx);
    drawGroups(panels.groups, data, ctx);
    drawTrend(panels.trend, data);
  }

  async function loadGroups() {
    panels.groups.loading();
    const want = prefs.groupBy;
    try {
      const data = await get('/api/v1/slow-requests', apiParams(filters, { limit: '1', group_by: want }));
      if (want === prefs.groupBy) drawGroups(panels.groups, data, ctx);
    } catch (err) {
      if (isAbort(err)) return;
      if (want === prefs.groupBy) panels.groups.error('Could not load the groups.', err);
    }
  }

  async function loadAlerts() {
    const p = panels.alerts;
    p.loading();
    const params = new URLSearchParams({ range: filters.range });
    if (filters.service) params.set('service', filters.service);
    try {
      drawAlerts(p, await get('/api/v1/slow-requests/alerts', params), filters, ctx);
    } catch (err) {
      if (isAbort(err)) throw err;
      p.error('Could not load the spike alerts.', err);
    }
  }

  async function loadStats() {
    const p = panels.stats;
    p.loading();
    // The threshold picks the listed requests; the statistics are over
    // every request of the selection, against each type's own threshold.
    const params = apiParams(filters);
    params.delete('min_duration_ms');
    try {
      drawStats(p, await get('/api/v1/slow-operations/stats', params));
    } catch (err) {
      if (isAbort(err)) throw err;
      p.error('Could not load the slow-operation statistics.', err);
    }
  }

  function loadAll() {
    Promise.all([loadMain(), loadAlerts(), loadStats()]).then(() => {
      if (!ctx.signal.aborted) updatedEl.textContent = `updated ${fmtTime(Date.now())}`;
    }, (err) => { if (!isAbort(err)) console.error(err); });
  }

  loadAll();
  return () => {
    for (const p of Object.values(panels)) p.destroy();
    hideTip();
  };
}

// --- the table (4.4) ------------------------------------------------------------

function phaseLegend() {
  return h('ul', { class: 'chart-legend phase-legend', 'aria-label': 'Phases' }, PHASES.map((p) => h('li', null,
    h('span', { class: 'svc-dot', style: { background: p.color }, 'aria-hidden': 'true' }), p.label)));
}

function drawTable(p, data, ctx) {
  const rows = data.requests || [];
  p.setSub(`${rows.length < data.matched ? `the ${rows.length} slowest of ${fmtCount(data.matched)}` : `${rows.length}`} · `
    + `threshold ${fmtDuration(data.min_duration_ms)} · click a row to open its trace`);
  if (!rows.length) {
    p.empty(`No requests at or above ${fmtDuration(data.min_duration_ms)} in the last ${ctx.filters.range}.`,
      'Lower the threshold, loosen a filter or pick a longer time range.');
    return;
  }
  p.ready((body) => {
    const wrap = h('div', { class: 'table-wrap slow-table-wrap' });
    body.append(phaseLegend(), wrap);
    const render = () => {
      const col = COLUMNS.find((c) => c.key === prefs.sortKey);
      const sorted = col ? sortRows(rows, col, prefs.desc) : rows;
      const head = h('tr', null, COLUMNS.map((c) => h('th', {
        scope: 'col', class: c.num && !c.left ? 'num' : null, title: c.title || null, dataset: { col: c.key },
        'aria-sort': col === c ? (prefs.desc ? 'descending' : 'ascending') : (!col && c.key === 'duration' ? 'descending' : null),
      }, h('button', {
        type: 'button', class: 'th-sort',
        onclick: () => {
          const current = prefs.sortKey || 'duration';
          if (current === c.key) prefs.desc = prefs.sortKey ? !prefs.desc : false;
          else prefs.desc = !!c.num;
          prefs.sortKey = c.key;
          render();
        },
      }, c.label, (col ? col === c : c.key === 'duration')
        ? h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, (col ? prefs.desc : true) ? ' ▾' : ' ▴') : null))));
      const tbody = h('tbody', null, sorted.map((r) => slowRow(r, ctx)));
      clear(wrap).append(h('table', { class: 'grid slow-table', 'aria-label': 'Slow requests' }, h('thead', null, head), tbody));
    };
    render();
    return null;
  });
}

function sortRows(rows, col, desc) {
  const cmp = col.cmp || (col.num ? byNum : byText);
  return rows.map((r, i) => ({ r, i, v: col.value(r) })).sort((a, b) => {
    if (a.v == null || b.v == null) return (a.v == null) - (b.v == null) || a.i - b.i;
    const c = cmp(a.v, b.v);
    return (desc ? -c : c) || a.i - b.i;
  }).map((x) => x.r);
}

function slowRow(r, ctx) {
  const open = () => ctx.navigate({ trace: r.trace_id, span: r.span_id || '' });
  const status = STATUS_LABELS[r.status] ? r.status : 'ok';
  const endpoint = r.endpoint || r.name || '';
  const main = mainPhase(r);
  const slowSpans = r.slow_spans || [];
  return h('tr', {
    tabindex: '0', class: 'trace-row slow-row',
    dataset: { traceId: r.trace_id, spanId: r.span_id || '', duration: String(r.duration_ms) },
    'aria-label': `${r.service} ${endpoint}, ${fmtDuration(r.duration_ms)}${main ? `, mostly ${main.phase.label}` : ''}: open trace`,
    onclick: open,
    onkeydown: (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); }
      else if (ev.key === 'ArrowDown' && ev.currentTarget.nextElementSibling) { ev.preventDefault(); ev.currentTarget.nextElementSibling.focus(); }
      else if (ev.key === 'ArrowUp' && ev.currentTarget.previousElementSibling) { ev.preventDefault(); ev.currentTarget.previousElementSibling.focus(); }
    },
  },
  h('td', { class: 'col-time mono', title: fmtIso(r.start_ms) }, fmtTime(r.start_ms)),
  h('td', { class: 'col-service' }, h('span', { class: 'svc' }, r.service || '–')),
  h('td', { class: 'col-endpoint', title: r.name || '' }, h('span', { class: 'endpoint' }, endpoint)),
  h('td', { class: 'col-tool' }, r.tool ? h('span', { class: 'tag tag-flush' }, r.tool) : h('span', { class: 'muted' }, '–')),
  h('td', { class: 'col-status' }, h('span', { class: `badge badge-${status}` }, STATUS_LABELS[status])),
  h('td', { class: 'num mono', title: `${r.duration_ms} ms` }, fmtDuration(r.duration_ms)),
  h('td', { class: 'num mono', title: `threshold ${fmtDuration(r.threshold_ms)}` }, r.ratio != null ? `×${fmtNum(r.ratio)}` : '–'),
  h('td', { class: 'col-phases' }, phaseBar(r, main)),
  h('td', { class: 'num mono', title: slowSpans.map((s) => `${s.service}: ${s.name} ${fmtDuration(s.duration_ms)}`).join('\n') }, String(slowSpans.length)),
  resourceCell(r.resources));
}

// The service's resources nearest the request's start: CPU in the cell, all of it in the title.
export function resourceCell(res) {
  if (!res) return h('td', { class: 'num muted col-resources', title: 'no resource metrics near its start' }, '–');
  const pct = (v) => (v == null ? '–' : `${fmtNum(v * 100)} %`);
  const pool = res.db_connections_used != null
    ? `pool ${fmtNum(res.db_connections_used)}${res.db_connections_max != null ? ` of ${fmtNum(res.db_connections_max)}` : ''}` : null;
  const title = resourceText(res);
  return h('td', { class: 'num mono col-resources', title, dataset: { cpu: res.cpu_utilization == null ? '' : String(res.cpu_utilization) } },
    pct(res.cpu_utilization), pool ? h('span', { class: 'muted small' }, ` · ${pool}`) : null);
}

// One bar per request, split by phase in proportion to its time.
function phaseBar(r, main) {
  if (!r.phases) return h('span', { class: 'muted small' }, 'trace unreadable');
  const total = r.phases_total_ms || r.duration_ms || 0;
  const parts = PHASES.map((p) => ({ ...p, ms: r.phases[`${p.key}_ms`] || 0 })).filter((p) => p.ms > 0);
  const text = parts.map((p) => `${p.label} ${fmtDuration(p.ms)}`).join(', ');
  const rows = () => parts.map((p) => ({ label: p.label, value: `${fmtDuration(p.ms)} · ${fmtNum((p.ms / total) * 100)} %`, color: p.color }));
  return h('div', { class: 'phase-cell' },
    h('span', {
      class: 'phase-bar', role: 'img', 'aria-label': `Phases: ${text}`,
      onmousemove: (ev) => showTip(ev, tipContent(`${fmtDuration(total)} by phase`, rows(), 'time on the critical path')),
      onmouseleave: hideTip,
    }, parts.map((p) => h('span', {
      class: 'phase-seg', dataset: { phase: p.key }, style: { width: `${(p.ms / total) * 100}%`, background: p.color },
    }))),
    main ? h('span', { class: 'phase-main small' }, `${main.phase.label} ${Math.round(main.share * 100)} %`) : null);
}

// --- groups, trend ----------------------------------------------------------------

function drawGroups(p, data, ctx) {
  const groups = data.groups || [];
  const by = data.group_by || prefs.groupBy;
  const label = (GROUPS.find((g) => g.id === by) || GROUPS[0]).label;
  p.setSub(`${groups.length} ${label.toLowerCase()}${groups.length === 1 ? '' : 's'} · by slow requests · click one to filter by it`);
  if (!groups.length) {
    p.empty('No slow requests to group.', null);
    return;
  }
  p.ready((body) => {
    const rows = groups.map((g) => {
      const clickable = g.key != null && g.key !== '';
      const choose = () => ctx.navigate({ filters: { [by]: g.key }, trace: '', span: '' });
      return h('tr', {
        class: `compare-row group-row${clickable ? ' is-clickable' : ''}`, tabindex: clickable ? '0' : null,
        dataset: { key: g.key == null ? '' : g.key },
        onclick: clickable ? choose : null,
        onkeydown: clickable ? (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); choose(); } } : null,
      },
      h('td', { class: 'col-endpoint' }, clickable ? h('span', { class: 'endpoint' }, g.key) : h('span', { class: 'muted' }, `(no ${by})`)),
      h('td', { class: 'num mono' }, fmtCount(g.count)),
      h('td', { class: 'num mono' }, fmtDuration(g.avg_ms)),
      h('td', { class: 'num mono' }, fmtDuration(g.p95_ms)),
      h('td', { class: 'num mono' }, fmtDuration(g.max_ms)),
      h('td', null, g.slowest_trace_id ? traceLink(g.slowest_trace_id, ctx, 'slowest') : '–'));
    });
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table groups-table', 'aria-label': `Slow requests by ${by}` },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, label), h('th', { scope: 'col', class: 'num' }, 'Slow'),
        h('th', { scope: 'col', class: 'num' }, 'Avg'), h('th', { scope: 'col', class: 'num' }, 'P95'),
        h('th', { scope: 'col', class: 'num' }, 'Max'), h('th', { scope: 'col' }, 'Trace'))),
      h('tbody', null, rows))));
    return null;
  });
}

function drawTrend(p, data) {
  const trend = data.trend;
  if (!trend || !trend.times_ms || !trend.times_ms.length) {
    p.setSub('');
    p.empty('No trend.', null);
    return;
  }
  const total = trend.counts.reduce((a, b) => a + b, 0);
  const peak = Math.max(...trend.counts);
  p.setSub(`${fmtCount(total)} slow requests · peak ${fmtCount(peak)} per ${fmtStep(trend.bucket_s)}`);
  p.ready((body) => {
    const box = h('div', { class: 'chart-box' });
    body.append(box);
    return drawTimeChart(box, {
      times: trend.times_ms, stepMs: trend.bucket_s * 1000, kind: 'bars', height: 170,
      series: [{ key: 'slow', label: 'Slow requests', color: TREND_COLOR, values: trend.counts }],
      unit: `per ${fmtStep(trend.bucket_s)}`, yTick: (v) => fmtNum(v), fmtValue: fmtCount,
      ariaLabel: `Slow requests per ${fmtStep(trend.bucket_s)}: ${total} in all, peak ${peak}`,
    });
  });
}

function fmtStep(s) {
  if (s % 86400 === 0) return s === 86400 ? 'day' : `${s / 86400} days`;
  if (s % 3600 === 0) return s === 3600 ? 'hour' : `${s / 3600} h`;
  if (s % 60 === 0) return s === 60 ? 'minute' : `${s / 60} min`;
  return `${s} s`;
}

// --- alerts, statistics -------------------------------------------------------------

function drawAlerts(p, data, filters, ctx) {
  const alerts = data.alerts || [];
  p.setSub(`last ${filters.range}${filters.service ? ` · ${filters.service} and fleet-wide` : ''}`);
  if (!alerts.length) {
    p.empty('No spikes of slow requests.', 'A spike: at least 5 requests over the threshold in 5 minutes, and a slow share 3 times the usual share (the median of the hour before).');
    return;
  }
  p.ready((body) => {
    body.append(h('ul', { class: 'alert-list' }, alerts.map((a) => {
      const fleet = a.scope === '*' || !a.service;
      return h('li', { class: 'alert-item', dataset: { scope: a.scope } },
        h('span', { class: 'badge badge-error' }, 'Spike'),
        h('span', { class: 'mono muted', title: fmtIso(a.time_ms) }, fmtTime(a.time_ms)),
        h('span', { class: 'alert-scope' }, fleet ? 'fleet-wide' : h('button', {
          type: 'button', class: 'link-btn', title: `filter by ${a.service}`,
          onclick: () => ctx.navigate({ filters: { service: a.service }, trace: '', span: '' }),
        }, a.service)),
        h('span', null, `${fmtCount(a.count)} requests over ${fmtDuration(a.threshold_ms)} in ${fmtStep(a.window_s)}`,
          h('span', { class: 'muted' }, ` (usual ${fmtNum(a.baseline)}${a.ratio != null ? `, ×${fmtNum(a.ratio)}` : ''})`)));
    })));
    return null;
  });
}

function drawStats(p, data) {
  const types = data.types || [];
  p.setSub(`${fmtCount(data.spans)} spans of ${fmtCount(data.requests)} requests${data.truncated ? ` (the newest ${fmtCount(data.limit)})` : ''}`);
  if (!data.spans) {
    p.empty('No operations.', 'No request matches these filters.');
    return;
  }
  p.ready((body) => {
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table stats-table', 'aria-label': 'Slow operations by type' },
      h('thead', null, h('tr', null, ['Type', 'Threshold', 'Spans', 'Slow', 'Slow %', 'Avg', 'P95', 'Max'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
      h('tbody', null, types.map((t) => h('tr', { dataset: { type: t.type } },
        h('td', null, t.type),
        h('td', { class: 'num mono' }, fmtDuration(t.threshold_ms)),
        h('td', { class: 'num mono' }, fmtCount(t.count)),
        h('td', { class: `num mono${t.slow ? ' is-bad' : ''}` }, fmtCount(t.slow)),
        h('td', { class: 'num mono' }, t.count ? `${fmtNum(t.slow_pct)} %` : '–'),
        h('td', { class: 'num mono' }, fmtDuration(t.avg_ms)),
        h('td', { class: 'num mono' }, fmtDuration(t.p95_ms)),
        h('td', { class: 'num mono' }, fmtDuration(t.max_ms))))))));
    return null;
  });
}
