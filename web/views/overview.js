// overview.js - the fleet view of the Performance tab (seed 001, level 1):
// latency KPIs (4.1), error rate by type (4.2), throughput (4.3), the
// service comparison (4.5), the latency heatmap (4.6) and the latency
// distribution (4.13), all under the filter bar.
//
// Requests (docs/API.md, /api/v1/performance/*), each once per load:
//   summary       KPIs
//   timeseries    throughput, error rate by type, the KPI's p95 sparkline
//   heatmap       kind=percentile or kind=latency (?heatmap=latency)
//   distribution  the histogram
//   compare       by=service, the table
// Nothing polls unless auto refresh is on (?refresh=5s).

import { h, clear } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { complianceClass } from './slos.js';
import { apiParams } from '../lib/state.js';
import { fmtTime, countedText } from '../lib/format.js';
import { panel } from '../lib/panel.js';
import { drawTimeChart, legend } from '../lib/charts/timechart.js';
import { drawHeatmap } from '../lib/charts/heatmap.js';
import { drawHistogram } from '../lib/charts/histogram.js';
import { sparkline } from '../lib/charts/sparkline.js';
import { hideTip } from '../lib/charts/tooltip.js';
import { heat, heatGradient, logUnit } from '../lib/charts/color.js';
import { fmtClock } from '../lib/charts/scale.js';
import {
  fmtDuration, fmtMsLog, fmtNum, fmtRate, fmtCount, fmtRatioPct, fmtPctTick,
} from '../lib/charts/units.js';

const REFRESH_MS = 5000;
const THROUGHPUT_COLOR = '#4e9af1';
const P95_COLOR = '#e8a33d';
// Error types: red first; timeouts always amber.
const ERROR_COLORS = ['#f0565c', '#b26ee0', '#e070b0', '#d4c043', '#4cc3d9', '#c98a5a'];
const TIMEOUT_COLOR = '#e8a33d';
const OTHER_COLOR = '#8c9bab';
const MAX_ERROR_TYPES = 6;
const MARKERS = [
  { key: 'p50_ms', label: 'p50', color: '#3fb68b' },
  { key: 'p95_ms', label: 'p95', color: '#e8a33d' },
  { key: 'p99_ms', label: 'p99', color: '#f0565c' },
];
const PERCENTILE_ROWS = ['p50', 'p75', 'p90', 'p95', 'p99'];

// Per service, the SLO scoped to that service alone (the first one), for
// the comparison's colours (4.5): green above 99 %, yellow 95-99 %, red.
async function serviceSlos(ctx) {
  const out = new Map();
  try {
    const data = await apiGet('/api/v1/slos', null, { signal: ctx.signal });
    for (const s of data.slos || []) {
      const keys = Object.keys(s.filters || {});
      if (s.status && keys.length === 1 && keys[0] === 'service' && !out.has(s.filters.service)) out.set(s.filters.service, s);
    }
  } catch (err) {
    if (isAbort(err)) throw err;
  }
  return out;
}

// The latency SLO of the selection (A4.1, GET /api/v1/slos): the first one
// whose service, endpoint, department, intent and tool filters are those
// of the dashboard (environment and version aside: an SLO holds across
// them).  {percentile: 'p95', target_ms} draws a threshold on the KPI
// sparkline and the histogram; null (no line) when there is none.
const SLO_KEYS = ['service', 'endpoint', 'department', 'intent', 'tool'];
async function loadSlo(ctx) {
  try {
    const data = await apiGet('/api/v1/slos', null, { signal: ctx.signal });
    const f = ctx.filters || {};
    const s = (data.slos || []).find((x) => x.kind === 'latency'
      && SLO_KEYS.every((k) => ((x.filters || {})[k] || '') === (f[k] || '')));
    return s ? { percentile: `p${s.objective}`, target_ms: s.threshold_ms, name: s.name || s.id } : null;
  } catch {
    return null; // no line rather than no overview
  }
}

export function mountOverview(el, ctx) {
  const { state, filters, navigate } = ctx;
  const updatedEl = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const scopeEl = h('span', { class: 'muted' }, scopeText(filters));

  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Overview'), scopeEl,
    h('div', { class: 'view-tools' },
      h('button', {
        type: 'button', class: 'btn toggle', id: 'auto-refresh',
        'aria-pressed': state.refresh ? 'true' : 'false', title: 'Reload every chart every 5 seconds',
        onclick: () => navigate({ refresh: !state.refresh }, { replace: true }),
      }, h('span', { class: 'toggle-dot', 'aria-hidden': 'true' }), 'Auto refresh 5s'),
      h('button', { type: 'button', class: 'btn', onclick: () => loadAll() }, 'Refresh'),
      updatedEl)));

  let heatKind = state.heatmap === 'latency' ? 'latency' : 'percentile';
  const kindButton = (kind, label, title) => h('button', {
    type: 'button', class: 'seg-btn', 'aria-pressed': heatKind === kind ? 'true' : 'false', title,
    dataset: { kind },
    onclick: (ev) => {
      if (heatKind === kind) return;
      heatKind = kind;
      for (const b of ev.currentTarget.parentNode.children) b.setAttribute('aria-pressed', b.dataset.kind === kind ? 'true' : 'false');
      ctx.setUrl({ heatmap: kind });
      panels.heatmap.el.dataset.state = 'loading';
      loadHeatmap();
    },
  }, label);

  const panels = {
    kpi: panel({ id: 'kpi', chartId: '4.1', title: 'Latency', wide: true }),
    throughput: panel({ id: 'throughput', chartId: '4.3', title: 'Throughput' }),
    errors: panel({ id: 'errors', chartId: '4.2', title: 'Error rate by type' }),
    heatmap: panel({
      id: 'heatmap', chartId: '4.6', title: 'Latency heatmap',
      tools: h('div', { class: 'seg', role: 'group', 'aria-label': 'Heatmap kind' },
        kindButton('percentile', 'Percentiles', 'p50, p75, p90, p95, p99 per time bucket'),
        kindButton('latency', 'Latency', 'request counts per latency bin and time bucket')),
    }),
    distribution: panel({ id: 'distribution', chartId: '4.13', title: 'Latency distribution' }),
    compare: panel({ id: 'compare', chartId: '4.5', title: 'Services', wide: true }),
  };
  el.append(h('div', { class: 'overview-grid' }, Object.values(panels).map((p) => p.el)),
    h('p', { class: 'overview-note muted' },
      'Coming to this view: environment parity (4.7), version benchmark (4.8), regression timeline (4.14), ',
      'and SLO thresholds with error-budget burn once SLOs can be set (A4.1).'));

  const params = (extra) => apiParams(filters, extra);
  const get = (path, extra) => apiGet(path, params(extra), { signal: ctx.signal });
  const sloPromise = loadSlo(ctx);
  const emptyHint = emptyText(ctx);

  // One loader per request; a refresh while one is running is skipped.
  const running = new Set();
  function once(key, fn) {
    if (running.has(key)) return Promise.resolve();
    running.add(key);
    return fn().catch((err) => { if (!isAbort(err)) throw err; }).finally(() => running.delete(key));
  }

  let timeseries = null; // the promise the KPI sparkline shares with 4.2 and 4.3

  function loadSummary() {
    return once('summary', async () => {
      const p = panels.kpi;
      p.loading();
      try {
        const [sum, slo] = await Promise.all([get('/api/v1/performance/summary'), sloPromise]);
        drawKpis(p, sum, slo, timeseries, emptyHint);
      } catch (err) {
        if (isAbort(err)) throw err;
        p.error('Could not load the latency summary.', err);
      }
    });
  }

  function loadTimeseries() {
    return once('timeseries', async () => {
      panels.throughput.loading();
      panels.errors.loading();
      timeseries = get('/api/v1/performance/timeseries');
      let ts;
      try {
        ts = await timeseries;
      } catch (err) {
        if (isAbort(err)) throw err;
        panels.throughput.error('Could not load the throughput.', err);
        panels.errors.error('Could not load the error rate.', err);
        return;
      }
      drawThroughput(panels.throughput, ts, emptyHint);
      drawErrors(panels.errors, ts, emptyHint);
    });
  }

  function loadHeatmap() {
    return once(`heatmap-${heatKind}`, async () => {
      const p = panels.heatmap;
      const kind = heatKind;
      p.loading();
      try {
        const hm = await get('/api/v1/performance/heatmap', { kind });
        if (kind !== heatKind) return;
        if (kind === 'latency') drawLatencyHeatmap(p, hm, emptyHint);
        else drawPercentileHeatmap(p, hm, emptyHint);
      } catch (err) {
        if (isAbort(err)) throw err;
        if (kind === heatKind) p.error('Could not load the heatmap.', err);
      }
    });
  }

  function loadDistribution() {
    return once('distribution', async () => {
      const p = panels.distribution;
      p.loading();
      try {
        const [dist, slo] = await Promise.all([get('/api/v1/performance/distribution'), sloPromise]);
        drawDistribution(p, dist, slo, emptyHint);
      } catch (err) {
        if (isAbort(err)) throw err;
        p.error('Could not load the latency distribution.', err);
      }
    });
  }

  function loadCompare() {
    return once('compare', async () => {
      const p = panels.compare;
      p.loading();
      try {
        const [cmp, slos] = await Promise.all([get('/api/v1/performance/compare', { by: 'service' }), serviceSlos(ctx)]);
        drawCompare(p, cmp, ctx, emptyHint, slos);
      } catch (err) {
        if (isAbort(err)) throw err;
        p.error('Could not load the service comparison.', err);
      }
    });
  }

  function loadAll() {
    // The time series first: the KPI panel waits for it for its sparkline.
    const all = [loadTimeseries(), loadSummary(), loadHeatmap(), loadDistribution(), loadCompare()];
    Promise.all(all).then(() => {
      if (!ctx.signal.aborted) updatedEl.textContent = `updated ${fmtTime(Date.now())}`;
    }, (err) => { if (!isAbort(err)) console.error(err); });
  }

  loadAll();
  let timer = null;
  if (state.refresh) timer = setInterval(() => { if (!document.hidden) loadAll(); }, REFRESH_MS);
  return () => {
    if (timer) clearInterval(timer);
    for (const p of Object.values(panels)) p.destroy();
    hideTip();
  };
}

// --- text ---------------------------------------------------------------------

function scopeText(filters) {
  const parts = [`last ${filters.range}`];
  parts.push(filters.env ? filters.env : 'all environments');
  for (const k of ['service', 'endpoint', 'version', 'department', 'intent', 'tool']) {
    if (filters[k]) parts.push(`${k} ${filters[k]}`);
  }
  if (filters.tier) parts.push(`${filters.tier} tier`);
  if (filters.status) parts.push(filters.status === 'success' ? 'successes' : `${filters.status}s only`);
  return parts.join(' · ');
}

function emptyText(ctx) {
  const filtered = Object.keys(ctx.state.filters).some((k) => k !== 'range') || ctx.filters.env;
  return filtered
    ? 'No requests match these filters in this time range. Loosen a filter, or pick a longer range.'
    : 'No requests in this time range. Send traces to /v1/traces (OTLP/HTTP) or requests to /api/v1/requests.';
}

function fmtStep(s) {
  if (s % 86400 === 0) return `${s / 86400}-day`;
  if (s % 3600 === 0) return `${s / 3600}-hour`;
  if (s % 60 === 0) return `${s / 60}-min`;
  return `${s}-s`;
}

function boundText(bound) {
  return Number.isFinite(bound) ? `±${+(bound * 100).toFixed(2)}%` : '';
}

// --- 4.1 latency KPIs -------------------------------------------------------------

function drawKpis(p, sum, slo, timeseries, emptyHint) {
  const bound = sum.error_bound;
  p.setSub(h('span', { class: 'badge badge-muted', title: 'every percentile is within this relative error of the exact value' },
    `${boundText(bound)} error bound`),
  ` ${fmtCount(sum.count)} requests`,
  h('span', { class: 'counted muted', title: 'what is counted as a request' }, sum.counted ? ` (${countedText(sum.counted)})` : ''),
  ` · ${sum.source === 'spans' ? 'from raw spans' : 'from rollups'}`);
  if (!sum.count) {
    p.empty('No requests.', emptyHint);
    return;
  }
  p.ready((body) => {
    const big = (key, label, extra) => {
      const v = sum[`${key}_ms`];
      // |v - exact| <= bound × exact, so the exact value lies in [lo, hi].
      const lo = v != null ? v / (1 + bound) : null;
      const hi = v != null ? v / (1 - bound) : null;
      return h('div', { class: `kpi kpi-${key}`, dataset: { kpi: key } },
        h('button', {
          type: 'button', class: 'kpi-link', title: v != null
            ? `${label}: ${v} ms; the exact value lies between ${fmtNum(lo, 5)} and ${fmtNum(hi, 5)} ms. Click to see the distribution.`
            : `${label}: no requests`,
          onclick: () => focusMarker(key),
        },
        h('span', { class: 'kpi-label' }, label),
        h('span', { class: 'kpi-value', dataset: { value: v == null ? '' : String(v) } }, fmtDuration(v)),
        h('span', { class: 'kpi-bound muted' }, v != null ? boundText(bound) : '')),
        extra);
    };
    const spark = h('div', { class: 'kpi-spark' });
    const small = (key, label, value, title) => h('div', { class: 'kpi kpi-small', dataset: { kpi: key } },
      h('span', { class: 'kpi-label' }, label),
      h('span', { class: 'kpi-value', title }, value));
    const errPct = sum.error_rate;
    const types = (sum.errors_by_type || []).slice(0, 3).map((t) => `${t.type} ${fmtCount(t.count)}`).join(', ');
    body.append(h('div', { class: 'kpi-row' },
      big('p50', 'P50'),
      big('p95', 'P95', spark),
      big('p99', 'P99'),
      h('div', { class: 'kpi-sep', 'aria-hidden': 'true' }),
      small('count', 'Requests', fmtCount(sum.count), `${sum.count} requests: ${countedText(sum.counted) || 'entry spans'}`),
      small('rps', 'Throughput', fmtRate(sum.rps), `${sum.rps} req/s over ${sum.range_s} s`),
      small('error_rate', 'Error rate', fmtRatioPct(errPct),
        `${sum.errors} errors + ${sum.timeouts} timeouts of ${sum.count}${types ? ` (${types})` : ''}`),
      small('max', 'Max', fmtDuration(sum.max_ms), sum.max_ms != null ? `${sum.max_ms} ms (exact)` : '')));
    // The p95 sparkline comes with the time series (4.2, 4.3).
    if (timeseries) {
      timeseries.then((ts) => {
        const ser = ts.series && ts.series[0];
        if (!ser) return;
        const values = ser.points.map((pt) => pt.p95_ms);
        spark.append(sparkline(values, {
          width: 140, height: 30, color: P95_COLOR, times: ts.times_ms, stepMs: ts.step_s * 1000,
          fmtValue: fmtDuration, label: `p95 per ${fmtStep(ts.step_s)} bucket`,
          threshold: slo && slo.percentile === 'p95' ? slo.target_ms : null,
        }));
      }, () => {});
    }
    return null;
  });
}

function focusMarker(key) {
  const panelEl = document.getElementById('panel-distribution');
  if (!panelEl) return;
  panelEl.scrollIntoView({ behavior: 'smooth', block: 'center' });
  for (const m of panelEl.querySelectorAll('.hist-marker')) {
    m.classList.toggle('is-focus', m.dataset.marker === key);
  }
}

// --- 4.3 throughput -----------------------------------------------------------------

function drawThroughput(p, ts, emptyHint) {
  const ser = ts.series && ts.series[0];
  const total = ser ? ser.count : 0;
  const stepMs = ts.step_s * 1000;
  if (!ser || !total) {
    p.setSub(`${fmtStep(ts.step_s)} buckets`);
    p.empty('No requests.', emptyHint);
    return;
  }
  const rps = ser.points.map((pt) => pt.rps);
  let peak = 0;
  rps.forEach((v, i) => { if (v > rps[peak]) peak = i; });
  p.setSub(`avg ${fmtRate(total / ts.range_s)} · peak ${fmtRate(rps[peak])} at ${fmtClock(ts.times_ms[peak])} · ${fmtStep(ts.step_s)} buckets`);
  p.ready((body) => {
    const box = h('div', { class: 'chart-box' });
    body.append(box);
    return drawTimeChart(box, {
      times: ts.times_ms, stepMs, kind: 'bars',
      series: [{ key: 'rps', label: 'Throughput', color: THROUGHPUT_COLOR, values: rps }],
      unit: 'req/s', yTick: (v, step) => fmtNum(v, step < 1 ? 2 : 3), fmtValue: fmtRate,
      tipExtra: (i) => [{ label: 'Requests', value: fmtCount(ser.points[i].count) }],
      ariaLabel: `Throughput per ${fmtStep(ts.step_s)} bucket, peak ${fmtRate(rps[peak])}`,
    });
  });
}

// --- 4.2 error rate by type -------------------------------------------------------------

function drawErrors(p, ts, emptyHint) {
  const ser = ts.series && ts.series[0];
  const stepMs = ts.step_s * 1000;
  const count = ser ? ser.count : 0;
  if (!ser || !count) {
    p.setSub('');
    p.empty('No requests.', emptyHint);
    return;
  }
  const totals = new Map();
  let failed = 0;
  for (const pt of ser.points) {
    failed += (pt.errors || 0) + (pt.timeouts || 0);
    for (const [type, n] of Object.entries(pt.errors_by_type || {})) totals.set(type, (totals.get(type) || 0) + n);
  }
  p.setSub(`${fmtRatioPct(failed / count)} of ${fmtCount(count)} requests failed`);
  if (!failed) {
    p.empty('No failed requests in this range.', 'Errors and timeouts will show here, stacked by type.');
    return;
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const kept = ranked.slice(0, ranked.length > MAX_ERROR_TYPES ? MAX_ERROR_TYPES - 1 : MAX_ERROR_TYPES).map(([t]) => t);
  const rest = ranked.length > kept.length;
  let c = 0;
  const series = kept.map((type) => ({
    key: type, label: type, color: /timeout/i.test(type) ? TIMEOUT_COLOR : ERROR_COLORS[c++ % ERROR_COLORS.length],
    values: ser.points.map((pt) => (pt.count ? ((pt.errors_by_type || {})[type] || 0) / pt.count * 100 : null)),
  }));
  if (rest) {
    series.push({
      key: 'other', label: 'other types', color: OTHER_COLOR,
      values: ser.points.map((pt) => {
        if (!pt.count) return null;
        let n = 0;
        for (const [type, v] of Object.entries(pt.errors_by_type || {})) if (!kept.includes(type)) n += v;
        return n / pt.count * 100;
      }),
    });
  }
  p.ready((body) => {
    const box = h('div', { class: 'chart-box' });
    body.append(box, legend(series));
    return drawTimeChart(box, {
      times: ts.times_ms, stepMs, kind: 'area', stacked: true, series,
      unit: '% of requests', yTick: (v, step) => fmtPctTick(v, step), fmtValue: (v) => (v == null ? 'no requests' : `${fmtNum(v)} %`),
      tipExtra: (i) => {
        const pt = ser.points[i];
        return [{ label: 'Failed / requests', value: `${fmtCount((pt.errors || 0) + (pt.timeouts || 0))} / ${fmtCount(pt.count)}` }];
      },
      ariaLabel: `Error rate per ${fmtStep(ts.step_s)} bucket, stacked by error type: ${ranked.map(([t, n]) => `${t} ${n}`).join(', ')}`,
    });
  });
}

// --- 4.6 heatmaps ---------------------------------------------------------------------------

function heatLegend(lo, hi, fmt, title) {
  const mid = Math.sqrt(lo * hi);
  return h('div', { class: 'heat-legend', role: 'img', 'aria-label': `${title}: ${fmt(lo)} to ${fmt(hi)}, log scale` },
    h('span', { class: 'heat-legend-title muted' }, title),
    h('span', { class: 'heat-legend-lo mono' }, fmt(lo)),
    h('span', { class: 'heat-legend-bar', style: { background: heatGradient() } }),
    h('span', { class: 'heat-legend-hi mono' }, fmt(hi)),
    hi / lo > 4 ? h('span', { class: 'muted small' }, `(log scale, middle ${fmt(mid)})`) : null);
}

function drawPercentileHeatmap(p, hm, emptyHint) {
  p.setSub(`${fmtCount(hm.count)} requests · ${fmtStep(hm.step_s)} buckets · ${boundText(hm.error_bound)}`);
  if (!hm.count) { p.empty('No requests.', emptyHint); return; }
  const grid = PERCENTILE_ROWS.map((k) => hm.percentiles[`${k}_ms`] || []);
  const known = grid.flat().filter((v) => v != null && v > 0);
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  const color = (v) => heat(logUnit(v, lo, hi));
  p.ready((body) => {
    const box = h('div', { class: 'chart-box', dataset: { kind: 'percentile' } });
    body.append(box, heatLegend(lo, hi, fmtDuration, 'Latency'));
    return drawHeatmap(box, {
      times: hm.times_ms, stepMs: hm.step_s * 1000, height: 170,
      rows: PERCENTILE_ROWS.map((k) => ({ label: k })),
      value: (t, r) => grid[r][t],
      color,
      tip: (t, r) => [
        { label: PERCENTILE_ROWS[r], value: fmtDuration(grid[r][t]), color: grid[r][t] != null ? color(grid[r][t]) : null },
        { label: 'Requests', value: fmtCount(hm.totals[t]) },
      ],
      unit: 'percentile',
      ariaLabel: `Latency percentiles per ${fmtStep(hm.step_s)} bucket, from ${fmtDuration(lo)} to ${fmtDuration(hi)}`,
    });
  });
}

function drawLatencyHeatmap(p, hm, emptyHint) {
  p.setSub(`${fmtCount(hm.count)} requests · ${hm.bins.length} latency bins · ${fmtStep(hm.step_s)} buckets`);
  if (!hm.count || !hm.bins.length) { p.empty('No requests.', emptyHint); return; }
  let max = 0;
  for (const col of hm.counts) for (const v of col) if (v > max) max = v;
  const color = (v) => heat(max > 1 ? logUnit(v, 1, max) * 0.85 + 0.15 : 0.6);
  const rows = hm.bins.map((b) => ({ label: `${fmtDuration(b.lo_ms)} – ${fmtDuration(b.hi_ms)}` }));
  const yTicks = latencyTicks(hm.bins);
  p.ready((body) => {
    const box = h('div', { class: 'chart-box', dataset: { kind: 'latency' } });
    body.append(box, heatLegend(1, Math.max(1, max), fmtCount, 'Requests per cell'));
    return drawHeatmap(box, {
      times: hm.times_ms, stepMs: hm.step_s * 1000, height: 220, rows, yTicks,
      value: (t, b) => hm.counts[t][b],
      color,
      tip: (t, b) => [
        { label: 'Latency', value: `${fmtDuration(hm.bins[b].lo_ms)} – ${fmtDuration(hm.bins[b].hi_ms)}` },
        { label: 'Requests', value: fmtCount(hm.counts[t][b]), color: hm.counts[t][b] ? color(hm.counts[t][b]) : null },
        { label: 'In this bucket', value: fmtCount(hm.totals[t]) },
      ],
      unit: 'latency',
      ariaLabel: `Request counts per latency bin and ${fmtStep(hm.step_s)} bucket`,
    });
  });
}

// Round latencies (1, 2, 5 × 10^k ms; fewer when the bins span many
// decades) placed inside their bin on the bins' log scale.
function latencyTicks(bins) {
  const first = bins[0].lo_ms > 0 ? bins[0].lo_ms : bins[0].hi_ms / 1.1;
  const last = bins[bins.length - 1].hi_ms;
  const decades = Math.log10(last / first);
  const mults = decades > 4 ? [1] : decades > 2 ? [1, 3] : [1, 2, 5];
  const out = [];
  for (let e = Math.floor(Math.log10(first)); e <= Math.ceil(Math.log10(last)); e++) {
    for (const m of mults) {
      const v = m * 10 ** e;
      const b = bins.findIndex((bin) => v > bin.lo_ms && v <= bin.hi_ms);
      if (b < 0) continue;
      const lo = bins[b].lo_ms > 0 ? bins[b].lo_ms : bins[b].hi_ms / 1.1;
      out.push({ pos: b + Math.log(v / lo) / Math.log(bins[b].hi_ms / lo), label: fmtMsLog(+v.toPrecision(3)) });
    }
  }
  return out;
}

// --- 4.13 distribution --------------------------------------------------------------------------

function drawDistribution(p, dist, slo, emptyHint) {
  p.setSub(`${fmtCount(dist.count)} requests · ${dist.bins.length} bins, each ×${fmtNum(dist.bucket_ratio, 4)} wide`);
  if (!dist.count || !dist.bins.length) { p.empty('No requests.', emptyHint); return; }
  const markers = MARKERS.map((m) => ({ label: m.label, value: dist[m.key], color: m.color, cls: `marker-${m.label}` }));
  if (slo) markers.push({ label: `SLO ${slo.percentile}`, value: slo.target_ms, color: '#6ea8fe', cls: 'marker-slo' });
  p.ready((body) => {
    const box = h('div', { class: 'chart-box' });
    body.append(box);
    return drawHistogram(box, {
      bins: dist.bins, markers, height: 230,
      ariaLabel: `Latency histogram of ${dist.count} requests: p50 ${fmtDuration(dist.p50_ms)}, p95 ${fmtDuration(dist.p95_ms)}, p99 ${fmtDuration(dist.p99_ms)}`,
    });
  });
}

// --- 4.5 service comparison -------------------------------------------------------------------

const COLUMNS = [
  { key: 'key', label: 'Service', num: false },
  { key: 'count', label: 'Requests', num: true },
  { key: 'rps', label: 'Throughput', num: true },
  { key: 'error_rate', label: 'Error %', num: true },
  { key: 'p50_ms', label: 'P50', num: true },
  { key: 'p95_ms', label: 'P95', num: true },
  { key: 'p99_ms', label: 'P99', num: true },
];

function drawCompare(p, cmp, ctx, emptyHint, slos = new Map()) {
  const rows = cmp.rows || [];
  const selected = ctx.filters.service || null;
  p.setSub(`${rows.filter((r) => !r.other).length} service${rows.length === 1 ? '' : 's'} · requests are each service's entry spans · click a row to filter by it · trend in ${fmtStep(cmp.step_s)} buckets`);
  if (!rows.length) { p.empty('No requests.', emptyHint); return; }
  let sortKey = 'count';
  let desc = true;
  const maxP95 = Math.max(...rows.map((r) => r.p95_ms || 0), 0.001);

  p.ready((body) => {
    const wrap = h('div', { class: 'table-wrap' });
    body.append(wrap);
    const render = () => {
      const sorted = [...rows].sort((a, b) => {
        if (a.other !== b.other) return a.other ? 1 : -1;
        const va = a[sortKey];
        const vb = b[sortKey];
        if (va == null && vb == null) return 0;
        if (va == null) return 1;
        if (vb == null) return -1;
        const c = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
        return desc ? -c : c;
      });
      const head = h('tr', null, COLUMNS.map((c) => h('th', {
        scope: 'col', class: c.num ? 'num' : null, 'aria-sort': sortKey === c.key ? (desc ? 'descending' : 'ascending') : null,
      }, h('button', {
        type: 'button', class: 'th-sort',
        onclick: () => {
          if (sortKey === c.key) desc = !desc;
          else { sortKey = c.key; desc = c.num; }
          render();
        },
      }, c.label, sortKey === c.key ? h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, desc ? ' ▾' : ' ▴') : null))),
      h('th', { scope: 'col' }, 'P95 trend'));
      const tbody = h('tbody', null, sorted.map((r) => compareRow(r, cmp, maxP95, selected, ctx, slos.get(r.key))));
      clear(wrap).append(h('table', { class: 'grid compare-table', 'aria-label': 'Services compared' }, h('thead', null, head), tbody));
    };
    render();
    return null;
  });
}

function compareRow(r, cmp, maxP95, selected, ctx, slo) {
  const name = r.other ? 'other services' : r.key == null ? '(no service)' : r.key;
  const clickable = !r.other && r.key != null;
  const isSel = clickable && selected === r.key;
  const choose = () => ctx.navigate({ filters: { service: isSel ? '' : r.key }, trace: '', span: '' });
  const failed = (r.errors || 0) + (r.timeouts || 0);
  const pct = r.p95_ms != null ? Math.max(1, (r.p95_ms / maxP95) * 100) : 0;
  return h('tr', {
    class: `compare-row${clickable ? ' is-clickable' : ''}${isSel ? ' is-selected' : ''}`,
    tabindex: clickable ? '0' : null, dataset: { key: r.key == null ? '' : r.key },
    'aria-label': clickable ? `${name}: ${isSel ? 'clear the service filter' : 'filter by this service'}` : null,
    onclick: clickable ? choose : null,
    onkeydown: clickable ? (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); choose(); } } : null,
  },
  h('td', { class: 'col-service' }, h('span', { class: 'svc' }, name), isSel ? h('span', { class: 'tag' }, 'filter') : null,
    slo ? h('span', {
      class: `slo-dot ${complianceClass(slo.status.compliance)}`, dataset: { slo: slo.id },
      title: `SLO ${slo.name || slo.id}: ${fmtNum(slo.status.compliance, 4)} % compliant, ${fmtNum(slo.status.budget.remaining_pct, 3)} % of the budget left`,
    }) : null),
  h('td', { class: 'num mono col-count', title: `${r.count} requests` }, fmtCount(r.count)),
  h('td', { class: 'num mono', title: `${r.rps} req/s` }, fmtRate(r.rps)),
  h('td', { class: `num mono${failed ? ' is-bad' : ''}`, title: `${r.errors} errors + ${r.timeouts} timeouts of ${r.count}` }, fmtRatioPct(r.error_rate)),
  h('td', { class: 'num mono', title: r.p50_ms != null ? `${r.p50_ms} ms` : '' }, fmtDuration(r.p50_ms)),
  h('td', { class: 'num mono col-p95', title: r.p95_ms != null ? `${r.p95_ms} ms` : '' },
    h('div', { class: 'p95-cell' },
      h('span', { class: 'p95-track', 'aria-hidden': 'true' }, h('span', { class: 'p95-bar', style: { width: `${pct}%` } })),
      h('span', null, fmtDuration(r.p95_ms)))),
  h('td', { class: 'num mono', title: r.p99_ms != null ? `${r.p99_ms} ms` : '' }, fmtDuration(r.p99_ms)),
  h('td', { class: 'col-trend' }, sparkline(r.p95_trend_ms || [], {
    width: 120, height: 24, color: P95_COLOR, times: cmp.times_ms, stepMs: cmp.step_s * 1000,
    fmtValue: fmtDuration, label: `${name} p95`,
  })));
}

