// slos.js - the SLOs view (chart 4.10; actions A4.1, A4.3, A4.10): are we
// meeting our objectives, and how fast is each error budget burning?
//
//   compliance grid   GET /api/v1/slos: a card per SLO, green above 99 %,
//                     yellow from 95 % to 99 %, red under 95 %, with the
//                     budget remaining and the burn rates
//   burn-down         GET /api/v1/slos/{id}/burndown: the budget left hour
//                     by hour over the window, against an even spend
//   budgets           performance budgets (rules measuring the mean p95 of
//                     the services in scope): GET /api/v1/alerts/rules and
//                     each one's /series, the last 24 h hour by hour
//   alert feed        GET /api/v1/alerts; acknowledge, silence for an hour,
//                     resolve (POST /api/v1/alerts/{id})
//   editors           new SLO, new alert rule or performance budget (POST),
//                     delete (DELETE): each asks for confirmation first
//
// Every figure is the server's (src/watch/); nothing is computed here but
// the burn-down's running sum of the hourly counts.

import { h, clear, errorBox } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiPost, apiSend } from '../lib/request.js';
import { fmtTime } from '../lib/format.js';
import { fmtCount, fmtNum } from '../lib/charts/units.js';

const REFRESH_MS = 30000;
const prefs = { selected: null };

// green > 99 %, yellow 95–99 %, red < 95 %
export function complianceClass(pct) {
  if (!(pct >= 95)) return 'slo-red';
  return pct > 99 ? 'slo-green' : 'slo-yellow';
}

export function mountSlos(el, ctx) {
  const grid = h('div', { class: 'slo-grid', id: 'slo-grid', 'aria-live': 'polite' });
  const burn = h('div', { class: 'panel', id: 'slo-burndown' });
  const feed = h('div', { class: 'panel', id: 'alert-feed' });
  const budgets = h('div', { class: 'panel', id: 'slo-budgets' });
  const dlg = dialog();
  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'SLOs'),
    h('div', { class: 'view-tools' },
      h('button', { type: 'button', class: 'btn', id: 'slo-new', onclick: () => editSlo(dlg, ctx, load) }, 'New SLO'),
      h('button', { type: 'button', class: 'btn', id: 'rule-new', onclick: () => editRule(dlg, ctx, load) }, 'New alert rule'))),
  h('h2', { class: 'section-title' }, 'Compliance'), grid, burn, budgets, feed, dlg.el);

  let seq = 0;
  async function load() {
    const mine = ++seq;
    try {
      const [slos, alerts, rules] = await Promise.all([
        apiGet('/api/v1/slos', null, { signal: ctx.signal }),
        apiGet('/api/v1/alerts', new URLSearchParams({ state: 'all' }), { signal: ctx.signal }),
        apiGet('/api/v1/alerts/rules', null, { signal: ctx.signal }),
      ]);
      if (mine !== seq) return;
      drawGrid(grid, slos.slos || [], dlg, load);
      const list = slos.slos || [];
      if (!list.find((s) => s.id === prefs.selected)) prefs.selected = list.length ? list[0].id : null;
      drawFeed(feed, alerts.alerts || [], dlg, load);
      await drawBudgets(budgets, (rules.rules || []).filter((r) => r.measure === 'service_p95_mean'), ctx);
      await drawBurndown(burn, list.find((s) => s.id === prefs.selected), ctx);
    } catch (err) {
      if (isAbort(err) || mine !== seq) return;
      clear(grid).append(errorBox('Could not load the SLOs.', err.message));
    }
  }
  grid.addEventListener('click', (ev) => {
    const card = ev.target.closest('.slo-card');
    if (!card || ev.target.closest('button')) return;
    prefs.selected = card.dataset.slo;
    load();
  });
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}

// --- the compliance grid ------------------------------------------------------

// A threshold other than 100, 500 or 2000 ms is counted from the request
// rows: since when (the window before that is not counted).
function exactLine(st) {
  if (!('exact_since_ms' in st)) return null;
  return h('div', { class: 'muted small slo-exact' }, st.exact_since_ms == null
    ? 'Counting the requests under the threshold…'
    : `Counted exactly since ${fmtTime(st.exact_since_ms)}`);
}

function objectiveText(s) {
  const scope = Object.entries(s.filters || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'the fleet';
  const what = s.kind === 'latency' ? `${fmtNum(s.objective)} % under ${s.threshold_ms} ms` : `${fmtNum(s.objective)} % succeed`;
  return `${what} · ${s.window} · ${scope}`;
}

function drawGrid(grid, slos, dlg, reload) {
  clear(grid);
  if (!slos.length) {
    grid.append(h('div', { class: 'panel-msg panel-empty muted' },
      h('p', null, 'No SLO yet.'), h('p', null, 'Set one with “New SLO”: e.g. 95 % of checkout requests under 500 ms over 30 days.')));
    return;
  }
  for (const s of slos) {
    const st = s.status || {};
    const pct = st.compliance;
    const budget = st.budget || {};
    const burn = st.burn_rates || {};
    const alerts = st.alerts || {};
    grid.append(h('div', {
      class: `slo-card ${complianceClass(pct)}${prefs.selected === s.id ? ' slo-selected' : ''}`,
      dataset: { slo: s.id }, tabindex: '0', title: 'Show its burn-down',
    },
    h('div', { class: 'slo-name' }, s.name || s.id,
      alerts.page ? h('span', { class: 'badge badge-error' }, 'page') : null,
      alerts.ticket ? h('span', { class: 'badge badge-timeout' }, 'ticket') : null),
    h('div', { class: 'slo-objective muted small' }, objectiveText(s)),
    h('div', { class: 'slo-compliance' }, `${fmtNum(pct, 4)} %`),
    h('div', { class: 'slo-budget' }, `Budget remaining ${fmtNum(budget.remaining_pct, 3)} %`,
      h('span', { class: 'muted small' }, ` · ${fmtCount(budget.consumed)} of ${fmtNum(budget.total, 3)} bad requests allowed`)),
    h('div', { class: 'muted small slo-burn' },
      `Burn rate ${fmtNum(burn['1h'], 3)}× (1 h) · ${fmtNum(burn['6h'], 3)}× (6 h)`,
      st.exhaustion_s == null ? '' : st.exhaustion_s <= 0 ? ' · budget spent' : ` · budget gone in ${fmtSeconds(st.exhaustion_s)}`),
    exactLine(st),
    h('div', { class: 'slo-actions' },
      h('button', {
        type: 'button', class: 'btn btn-small btn-danger slo-delete',
        onclick: async () => {
          if (!await dlg.confirm(`Delete the SLO “${s.name || s.id}”?`, 'Its alerts stop being evaluated; the audit trail keeps its definition.')) return;
          await act(dlg, () => apiSend('DELETE', `/api/v1/slos/${encodeURIComponent(s.id)}`), reload);
        },
      }, 'Delete'))));
  }
}

function fmtSeconds(s) {
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${fmtNum(s / 3600, 2)} h`;
  return `${fmtNum(s / 86400, 2)} days`;
}

// --- the burn-down --------------------------------------------------------------

async function drawBurndown(panel, slo, ctx) {
  clear(panel).append(h('div', { class: 'panel-head' }, h('div', { class: 'panel-title' }, 'Error budget burn-down'),
    h('div', { class: 'panel-sub muted' }, slo ? `${slo.name || slo.id}: budget left over the window, against an even spend` : '')));
  if (!slo) return;
  const data = await apiGet(`/api/v1/slos/${encodeURIComponent(slo.id)}/burndown`, null, { signal: ctx.signal });
  const pts = data.points || [];
  const total = pts.reduce((a, p) => a + p.total, 0);
  const allowed = (1 - data.objective / 100) * total;
  let bad = 0;
  const left = pts.map((p) => {
    bad += p.total - p.good;
    return allowed > 0 ? 100 * (1 - bad / allowed) : 100;
  });
  panel.append(burnChart(left, pts, slo), h('p', { class: 'muted small', id: 'burndown-summary' },
    `${fmtCount(total)} requests in the window, ${fmtCount(bad)} bad of ${fmtNum(allowed, 4)} allowed.`));
}

const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function burnChart(spent, pts, slo) {
  let left = spent;
  const W = 900, H = 200, L = 48, B = 22;
  // An overspent budget goes below 0 %; the axis stops at -100 % so the
  // spend stays readable (the summary line gives the exact count).
  const lo = Math.max(-100, Math.min(0, ...left)), hi = 100;
  left = left.map((v) => Math.max(lo, v));
  const x = (i) => L + (i / Math.max(1, left.length - 1)) * (W - L - 8);
  const y = (v) => 8 + ((hi - v) / (hi - lo || 1)) * (H - B - 8);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'slo-chart', role: 'img', 'aria-label': `Error budget of ${slo.name || slo.id} over its window` });
  for (const v of [hi, 50, 0, lo].filter((v, i, a) => a.indexOf(v) === i)) {
    chart.append(svg('line', { x1: L, x2: W - 8, y1: y(v), y2: y(v), class: 'slo-gridline' }));
    const t = svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'slo-axis' });
    t.textContent = `${fmtNum(v, 3)} %`;
    chart.append(t);
  }
  chart.append(svg('line', { x1: x(0), y1: y(100), x2: x(left.length - 1), y2: y(0), class: 'slo-ideal' }));
  chart.append(svg('polyline', { points: left.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '), class: 'slo-line' }));
  for (const i of [0, left.length - 1]) {
    if (!pts[i]) continue;
    const t = svg('text', { x: x(i), y: H - 6, 'text-anchor': i ? 'end' : 'start', class: 'slo-axis' });
    t.textContent = fmtTime(pts[i].t_ms);
    chart.append(t);
  }
  return chart;
}

// --- performance budgets ---------------------------------------------------------

async function drawBudgets(panel, rules, ctx) {
  clear(panel).append(h('div', { class: 'panel-head' }, h('div', { class: 'panel-title' }, 'Performance budgets'),
    h('div', { class: 'panel-sub muted' }, 'mean p95 of the services in scope against its budget, the last 24 h by the hour')));
  if (!rules.length) {
    panel.append(h('p', { class: 'muted' }, 'No budget yet: a rule measuring “Mean p95 of services” with a department filter is one.'));
    return;
  }
  const series = await Promise.all(rules.map((r) => apiGet(`/api/v1/alerts/rules/${encodeURIComponent(r.id)}/series`,
    new URLSearchParams({ range: '24h', step: '3600' }), { signal: ctx.signal })));
  panel.append(h('table', { class: 'grid budget-table' },
    h('thead', null, h('tr', null, ['Budget', 'Scope', 'Now', 'Budget', 'Used', 'Last 24 h'].map((t) => h('th', null, t)))),
    h('tbody', null, rules.map((r, i) => {
      const pts = series[i].points || [];
      const now = [...pts].reverse().find((p) => p.value != null);
      const used = now && r.threshold ? (100 * now.value) / r.threshold : null;
      return h('tr', { dataset: { rule: r.id } },
        h('td', null, r.name || r.id),
        h('td', { class: 'small' }, Object.entries(r.filters || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'the fleet'),
        h('td', { class: 'budget-now' }, now ? `${fmtNum(now.value, 3)} ms` : '–'),
        h('td', null, `${fmtNum(r.threshold, 3)} ms`),
        h('td', { class: `budget-used ${used == null ? '' : used > 100 ? 'slo-red-text' : used > 90 ? 'slo-yellow-text' : 'slo-green-text'}` },
          used == null ? '–' : `${fmtNum(used, 3)} %`),
        h('td', null, spark(pts.map((p) => p.value), r.threshold)));
    }))));
}

// A small line of the values (gaps where null) with the budget as a dashed line.
function spark(values, limit) {
  const W = 160, H = 28;
  const finite = values.filter((v) => v != null);
  const hi = Math.max(limit || 0, ...finite, 1);
  const x = (i) => (i / Math.max(1, values.length - 1)) * W;
  const y = (v) => H - 2 - (v / hi) * (H - 4);
  const el = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'budget-spark', width: W, height: H });
  if (limit) el.append(svg('line', { x1: 0, x2: W, y1: y(limit), y2: y(limit), class: 'slo-ideal' }));
  const pts = values.map((v, i) => (v == null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
  if (pts.length) el.append(svg('polyline', { points: pts.join(' '), class: 'slo-line' }));
  return el;
}

// --- the alert feed --------------------------------------------------------------

const STATE_BADGE = { firing: 'badge-error', pending: 'badge-timeout', resolved: 'badge-ok' };

function drawFeed(panel, alerts, dlg, reload) {
  clear(panel).append(h('div', { class: 'panel-head' }, h('div', { class: 'panel-title' }, 'Alerts'),
    h('div', { class: 'panel-sub muted' }, 'SLO burn-rate alerts and alert rules, newest first')));
  if (!alerts.length) {
    panel.append(h('p', { class: 'muted' }, 'No alert has fired.'));
    return;
  }
  alerts.sort((a, b) => (b.fired_ms || b.since_ms || 0) - (a.fired_ms || a.since_ms || 0));
  const row = (a) => {
    const open = a.state === 'firing' || a.state === 'pending';
    const button = (label, cls, body, question) => h('button', {
      type: 'button', class: `btn btn-small ${cls}`,
      onclick: async () => {
        if (!await dlg.confirm(question, a.message || '')) return;
        await act(dlg, () => apiPost(`/api/v1/alerts/${encodeURIComponent(a.id)}`, body), reload);
      },
    }, label);
    return h('tr', { dataset: { alert: a.id } },
      h('td', null, a.name || a.id, h('div', { class: 'muted small' }, a.id)),
      h('td', null, h('span', { class: `badge ${STATE_BADGE[a.state] || 'badge-muted'}` }, a.state)),
      h('td', null, a.severity || '–'),
      h('td', null, a.fired_ms ? fmtTime(a.fired_ms) : '–'),
      h('td', { class: 'small' }, a.message || ''),
      h('td', { class: 'small' }, a.acknowledged_by ? `acknowledged by ${a.acknowledged_by}` : '',
        a.silenced_until_ms && a.silenced_until_ms > Date.now() ? ` silenced until ${fmtTime(a.silenced_until_ms)}` : ''),
      h('td', null, h('div', { class: 'alert-actions' }, open ? [
        a.acknowledged_ms ? null : button('Acknowledge', 'alert-ack', { action: 'acknowledge' }, `Acknowledge “${a.name || a.id}”? It will not page again.`),
        button('Silence 1 h', 'alert-silence', { action: 'silence', for: '1h' }, `Silence “${a.name || a.id}” for an hour?`),
        button('Resolve', 'alert-resolve', { action: 'resolve' }, `Resolve “${a.name || a.id}” by hand?`),
      ] : null)));
  };
  panel.append(h('table', { class: 'grid alert-table' },
    h('thead', null, h('tr', null, ['Alert', 'State', 'Severity', 'Fired', 'Message', '', ''].map((t) => h('th', null, t)))),
    h('tbody', null, alerts.map(row))));
}

async function act(dlg, fn, reload) {
  try {
    await fn();
    await reload();
  } catch (err) {
    dlg.fail(err.message);
  }
}

// --- the editors -------------------------------------------------------------

function field(label, input) {
  return h('label', { class: 'slo-field' }, h('span', { class: 'muted small' }, label), input);
}

function select(name, choices, value) {
  return h('select', { name }, choices.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

function scopeInputs(ctx) {
  const f = ctx.filters || {};
  return [
    field('Service', h('input', { name: 'service', value: f.service || '', placeholder: 'any' })),
    field('Endpoint', h('input', { name: 'endpoint', value: f.endpoint || '', placeholder: 'any' })),
    field('Department', h('input', { name: 'department', value: f.department || '', placeholder: 'any' })),
    field('Environment', h('input', { name: 'env', value: f.env && f.env !== 'all' ? f.env : '', placeholder: 'any' })),
  ];
}

function scopeOf(form) {
  const out = {};
  for (const k of ['service', 'endpoint', 'department', 'env']) {
    const v = form.elements[k].value.trim();
    if (v) out[k] = v;
  }
  return out;
}

function channelsOf(form) {
  return form.elements.channels.value.split(',').map((s) => s.trim()).filter(Boolean);
}

// How often a firing alert nobody acknowledged pages again ("repeat").
const REPEATS = [['0', 'never'], ['900', 'every 15 min'], ['3600', 'every hour'], ['14400', 'every 4 h']];

function editSlo(dlg, ctx, reload) {
  const kind = select('kind', [['latency', 'Latency'], ['availability', 'Availability']], 'latency');
  const form = h('form', { class: 'slo-form', id: 'slo-form' },
    field('Name', h('input', { name: 'name', required: true, placeholder: 'Checkout under 500 ms' })),
    field('Kind', kind),
    field('Objective (%)', h('input', { name: 'objective', type: 'number', step: 'any', min: '0', max: '100', value: '99', required: true })),
    field('Latency threshold (ms)', h('input', { name: 'threshold_ms', type: 'number', step: '1', min: '1', max: '3600000', value: '500', required: true })),
    field('Window', select('window', [['7d', '7 days'], ['28d', '28 days'], ['30d', '30 days']], '30d')),
    field('Page again while unacknowledged', select('repeat', REPEATS, '0')),
    ...scopeInputs(ctx),
    field('Channels (ids, comma-separated)', h('input', { name: 'channels', placeholder: 'ops-webhook' })));
  dlg.edit('New SLO', form, () => {
    const e = form.elements;
    const body = { name: e.name.value.trim(), kind: e.kind.value, objective: Number(e.objective.value), window: e.window.value, filters: scopeOf(form), channels: channelsOf(form) };
    if (body.kind === 'latency') body.threshold_ms = Number(e.threshold_ms.value);
    if (Number(e.repeat.value)) body.repeat = Number(e.repeat.value);
    const what = body.kind === 'latency' ? `${body.objective} % of requests under ${body.threshold_ms} ms` : `${body.objective} % of requests succeed`;
    return { body, path: '/api/v1/slos', question: `Create the SLO “${body.name}”: ${what} over ${body.window}?` };
  }, reload);
}

// The resource measures of /api/v1/metrics/query a metric rule may read.
const METRIC_MEASURES = [['cpu', 'CPU (cores)'], ['host_cpu', 'Host CPU (cores)'], ['memory', 'Memory (bytes)'],
  ['host_memory', 'Host memory (bytes)'], ['heap', 'Heap used (bytes)'], ['heap_limit', 'Heap limit (bytes)'],
  ['heap_total', 'Heap size (bytes)'], ['loop_delay', 'Event-loop delay (ms)'], ['gc_pause', 'GC pause (ms)'],
  ['pool_used', 'Pool connections in use'], ['pool_idle', 'Pool connections idle'], ['pool_max', 'Pool maximum'],
  ['pool_pending', 'Pool requests waiting'], ['pool_wait', 'Pool wait (ms)'], ['', 'A metric by name…']];

// The "metric" part of a metric rule: a resource measure or a metric's name,
// its aggregate over the window, an optional grouping.
function metricInputs() {
  const box = h('fieldset', { class: 'rule-metric', id: 'rule-metric', hidden: true },
    field('Metric', select('metric_measure', METRIC_MEASURES, 'cpu')),
    field('Metric name', h('input', { name: 'metric_name', placeholder: 'system.cpu.utilization', disabled: true })),
    field('Aggregate over the window', select('metric_agg', [['avg', 'Mean'], ['max', 'Max'], ['min', 'Min'], ['sum', 'Sum'],
      ['rate', 'Rate (per s)'], ['p95', 'p95'], ['p99', 'p99']], 'avg')),
    field('Group by (the worst group counts)', h('input', { name: 'metric_group_by', placeholder: 'none: pool, instance, host…' })));
  const byName = box.querySelector('select[name="metric_measure"]');
  byName.addEventListener('change', () => { box.querySelector('input[name="metric_name"]').disabled = byName.value !== ''; });
  return box;
}

function metricOf(form) {
  const e = form.elements;
  const m = e.metric_measure.value ? { measure: e.metric_measure.value } : { name: e.metric_name.value.trim() };
  m.agg = e.metric_agg.value;
  const by = e.metric_group_by.value.trim();
  if (by) m.group_by = by;
  return m;
}

function editRule(dlg, ctx, reload) {
  const measure = select('measure', [['p95', 'p95 (ms)'], ['p99', 'p99 (ms)'], ['p50', 'p50 (ms)'], ['error_rate', 'Error rate (%)'],
    ['throughput', 'Throughput (req/min)'], ['slow_share', 'Slow share (%)'], ['slow_count', 'Slow requests'],
    ['service_p95_mean', 'Mean p95 of services (budget, ms)'], ['slow_spikes', 'Slow-request spikes found'],
    ['regressions', 'Regressions flagged'], ['metric', 'Metric series (CPU, memory, pool…)']], 'p95');
  const metric = metricInputs();
  const slow = field('Slow at (ms)', h('input', { name: 'slow_ms', type: 'number', step: '1', min: '1', max: '3600000', value: '500' }));
  const isSlow = () => measure.value === 'slow_share' || measure.value === 'slow_count';
  slow.hidden = true;
  measure.addEventListener('change', () => { metric.hidden = measure.value !== 'metric'; slow.hidden = !isSlow(); });
  const form = h('form', { class: 'slo-form', id: 'rule-form' },
    field('Name', h('input', { name: 'name', required: true, placeholder: 'p95 over 500 ms' })),
    field('Measure', measure),
    metric,
    slow,
    field('Comparison', select('comparison', [['>', '>'], ['>=', '≥'], ['<', '<'], ['<=', '≤']], '>')),
    field('Threshold', h('input', { name: 'threshold', type: 'number', step: 'any', value: '500', required: true })),
    field('Window', select('window', [['300', '5 min'], ['900', '15 min'], ['3600', '1 h']], '300')),
    field('For', select('for', [['0', 'at once'], ['60', '1 min'], ['120', '2 min'], ['300', '5 min']], '60')),
    field('Severity', select('severity', [['warning', 'Warning'], ['critical', 'Critical'], ['info', 'Info']], 'warning')),
    field('Remind while unacknowledged', select('repeat', REPEATS, '0')),
    ...scopeInputs(ctx),
    field('Channels (ids, comma-separated)', h('input', { name: 'channels', placeholder: 'ops-webhook' })));
  dlg.edit('New alert rule', form, () => {
    const e = form.elements;
    const body = {
      name: e.name.value.trim(), measure: e.measure.value, comparison: e.comparison.value, threshold: Number(e.threshold.value),
      window: Number(e.window.value), for: Number(e.for.value), severity: e.severity.value, filters: scopeOf(form), channels: channelsOf(form),
    };
    if (Number(e.repeat.value)) body.repeat = Number(e.repeat.value);
    let what = body.measure;
    if (isSlow()) {
      body.slow_ms = Number(e.slow_ms.value);
      what = `${body.measure} at ${body.slow_ms} ms or more`;
    }
    if (body.measure === 'metric') {
      body.metric = metricOf(form);
      what = `${body.metric.agg} of ${body.metric.measure || body.metric.name}${body.metric.group_by ? ` (worst ${body.metric.group_by})` : ''}`;
    }
    return { body, path: '/api/v1/alerts/rules', question: `Create the rule “${body.name}”: ${what} ${body.comparison} ${body.threshold} over ${body.window / 60} min (${body.severity})?` };
  }, reload);
}

// One <dialog> for editors, confirmations and failures.
function dialog() {
  const title = h('h2', { class: 'section-title', id: 'dlg-title' });
  const body = h('div', { class: 'dlg-body' });
  const msg = h('p', { class: 'dlg-error', role: 'alert' });
  const ok = h('button', { type: 'button', class: 'btn btn-primary', id: 'dlg-ok' }, 'Confirm');
  const cancel = h('button', { type: 'button', class: 'btn', id: 'dlg-cancel' }, 'Cancel');
  const el = h('dialog', { class: 'slo-dialog', id: 'slo-dialog', 'aria-labelledby': 'dlg-title' },
    title, body, msg, h('div', { class: 'dlg-buttons' }, cancel, ok));
  let done = null;
  const finish = (v) => { if (done) { const d = done; done = null; d(v); } };
  ok.addEventListener('click', () => finish(true));
  cancel.addEventListener('click', () => { finish(false); el.close(); });
  el.addEventListener('close', () => finish(false));
  const show = (t, content, okLabel, error = '') => {
    title.textContent = t;
    clear(body).append(content);
    msg.textContent = error;
    ok.textContent = okLabel;
    if (!el.open) el.showModal();
    return new Promise((r) => { done = r; });
  };
  return {
    el,
    async confirm(question, detail) {
      const yes = await show(question, h('p', { class: 'muted' }, detail), 'Confirm');
      el.close();
      return yes;
    },
    fail(message) {
      show('That did not work', h('p', null, message), 'Close').then(() => el.close());
    },
    // The form, then "Please confirm" with what will be created; a
    // refusal of the server brings the form back with its reason.
    async edit(t, form, build, reload) {
      let error = '';
      for (;;) {
        if (!await show(t, form, 'Review', error)) return;
        if (!form.reportValidity()) continue;
        const { body: b, path, question } = build();
        if (!await show('Please confirm', h('p', { id: 'dlg-question' }, question), 'Confirm')) { el.close(); return; }
        try {
          await apiPost(path, b);
          el.close();
          await reload();
          return;
        } catch (err) {
          error = err.serverMessage || err.message;
        }
      }
    },
  };
}
