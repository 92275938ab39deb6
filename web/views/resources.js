// resources.js - the Resources view (user story US-3): CPU, memory,
// connection pools and database time over time, by instance and pool, by hour of the week,
// and per service, and the runtimes' heap, GC pauses and event-loop delay
// per service, for the producers under the filter bar.  Reads
// GET /api/v1/performance/heatmap?kind=cpu|memory|pool|db (time, and
// layout=time-of-day) and GET /api/v1/metrics/query?measure=… (docs/API.md).
// Every chart says what to send when it has nothing to show.

import { h } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiParams } from '../lib/state.js';
import { fmtTime } from '../lib/format.js';
import { panel } from '../lib/panel.js';
import { drawHeatmap } from '../lib/charts/heatmap.js';
import { drawTimeChart, legend } from '../lib/charts/timechart.js';
import { heat, heatGradient } from '../lib/charts/color.js';
import { fmtNum } from '../lib/charts/units.js';

const KINDS = {
  cpu: {
    title: 'CPU by instance', unit: 'cores', measure: 'cpu',
    empty: 'No CPU metrics from these services in this range.',
    hint: 'Send process.cpu.utilization (the OpenTelemetry host-metrics package), or resources.cpu_percent with POST /api/v1/requests.',
  },
  memory: {
    title: 'Memory by instance', unit: 'bytes', measure: 'memory',
    empty: 'No memory metrics from these services in this range.',
    hint: 'Send process.memory.usage (the OpenTelemetry host-metrics package), or resources.memory_mb with POST /api/v1/requests.',
  },
  pool: {
    title: 'Connection pool usage (used / max)', unit: 'share of max', measure: 'pool_used',
    empty: 'No connection pool metrics from these services in this range.',
    hint: 'Send db.client.connection.count by state with db.client.connection.max (the database client instrumentations), or resources.db_connections.',
  },
  db: {
    title: 'Database time by database', unit: 'ms of queries',
    empty: 'No database calls from these services in this range.',
    hint: 'Send traces whose database client spans carry db.system.name (or db.system), as the database client instrumentations do.',
  },
};
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export function fmtValue(v, kind) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (kind === 'memory') {
    if (v >= 1073741824) return `${fmtNum(v / 1073741824)} GiB`;
    return `${fmtNum(v / 1048576)} MiB`;
  }
  if (kind === 'pool') return `${fmtNum(v * 100)} %`;
  if (kind === 'db') return v >= 1000 ? `${fmtNum(v / 1000)} s` : `${fmtNum(v)} ms`;
  return `${fmtNum(v)} cores`;
}

export function mountResources(el, ctx) {
  const { filters } = ctx;
  let todKind = 'cpu';
  const updatedEl = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const todSelect = h('select', {
    class: 'select', 'aria-label': 'Measure by time of day',
    onchange: (ev) => { todKind = ev.target.value; loadTod(); },
  }, Object.keys(KINDS).map((k) => h('option', { value: k, selected: k === todKind }, k)));
  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Resources'),
    h('span', { class: 'muted' }, 'CPU, memory and connection pools of the services under the filter bar'),
    h('div', { class: 'view-tools' },
      h('button', { type: 'button', class: 'btn', onclick: () => loadAll() }, 'Refresh'),
      updatedEl)));
  const panels = {
    strip: panel({ id: 'res-strip', title: 'Latency with CPU and pool use beneath (the same time axis)', wide: true }),
    cpu: panel({ id: 'res-cpu', title: KINDS.cpu.title, wide: true }),
    memory: panel({ id: 'res-memory', title: KINDS.memory.title, wide: true }),
    pool: panel({ id: 'res-pool', title: KINDS.pool.title, wide: true }),
    db: panel({ id: 'res-db', title: KINDS.db.title, wide: true }),
    tod: panel({ id: 'res-tod', title: 'By time of day (hour × day of week, UTC)', tools: todSelect }),
    services: panel({ id: 'res-services', title: 'CPU per service' }),
    pools: panel({ id: 'res-pools', title: 'Pool connections in use against their maximum' }),
    runtime: panel({ id: 'res-runtime', title: 'Runtime: heap against its limit, GC pauses, event-loop delay', wide: true }),
  };
  el.append(h('div', { class: 'overview-grid' }, Object.values(panels).map((p) => p.el)));

  async function loadHeatmap(kind) {
    const p = panels[kind];
    p.loading();
    try {
      const data = await apiGet('/api/v1/performance/heatmap', apiParams(filters, { kind }), { signal: ctx.signal });
      drawResourceHeatmap(p, data, kind);
    } catch (err) {
      if (!isAbort(err)) p.error(`Could not load the ${kind} heatmap.`, err);
    }
  }

  async function loadTod() {
    const p = panels.tod;
    p.loading();
    try {
      const data = await apiGet('/api/v1/performance/heatmap', apiParams(filters, { kind: todKind, layout: 'time-of-day' }), { signal: ctx.signal });
      drawTimeOfDay(p, data, todKind);
    } catch (err) {
      if (!isAbort(err)) p.error('Could not load the time-of-day heatmap.', err);
    }
  }

  async function loadServices() {
    const p = panels.services;
    p.loading();
    try {
      const data = await apiGet('/api/v1/metrics/query', apiParams(filters, { measure: 'cpu', group_by: 'service' }), { signal: ctx.signal });
      const lines = data.lines || [];
      if (!lines.length) { p.empty(KINDS.cpu.empty, KINDS.cpu.hint); return; }
      const series = lines.slice(0, 8).map((l, i) => ({ key: l.key || 'unknown', label: l.key || 'unknown', color: PALETTE[i % PALETTE.length], values: l.values }));
      p.setSub(`${lines.length} services, cores (states and instances summed)`);
      p.ready((body) => {
        const chart = h('div', { class: 'chart-box' });
        body.append(chart, legend(series));
        return drawTimeChart(chart, {
          times: data.times_ms, stepMs: data.step_s * 1000, series, kind: 'line', unit: 'cores', yTick: (v) => fmtNum(v),
          fmtValue: (v) => fmtValue(v, 'cpu'), ariaLabel: 'CPU per service',
        });
      });
    } catch (err) {
      if (!isAbort(err)) p.error('Could not load CPU per service.', err);
    }
  }

  async function loadPools() {
    const p = panels.pools;
    p.loading();
    try {
      const q = (measure) => apiGet('/api/v1/metrics/query', apiParams(filters, { measure, group_by: 'pool' }), { signal: ctx.signal });
      const [used, max] = await Promise.all([q('pool_used'), q('pool_max')]);
      drawPools(p, used, max);
    } catch (err) {
      if (!isAbort(err)) p.error('Could not load the pools.', err);
    }
  }

  // heap used and its limit, GC pause time and event-loop delay, per service
  async function loadRuntime() {
    const p = panels.runtime;
    p.loading();
    try {
      const q = (measure) => apiGet('/api/v1/metrics/query', apiParams(filters, { measure, group_by: 'service' }), { signal: ctx.signal });
      const [heap, limit, gc, loop] = await Promise.all([q('heap'), q('heap_limit'), q('gc_pause'), q('loop_delay')]);
      drawRuntime(p, { heap, limit, gc, loop });
    } catch (err) {
      if (!isAbort(err)) p.error('Could not load the runtime metrics.', err);
    }
  }

  // p95 latency over the strips of the resources of the same services, step for step
  async function loadStrip() {
    const p = panels.strip;
    p.loading();
    try {
      // the latency's step (the rollups allow only some) for the resources too
      const lat = await apiGet('/api/v1/performance/timeseries', apiParams(filters), { signal: ctx.signal });
      const q = (measure) => apiGet('/api/v1/metrics/query', apiParams(filters, { measure, step: `${lat.step_s}s` }), { signal: ctx.signal });
      const [cpu, used, max] = await Promise.all([q('cpu'), q('pool_used'), q('pool_max')]);
      drawStrip(p, lat, cpu, used, max);
    } catch (err) {
      if (!isAbort(err)) p.error('Could not load latency and resources.', err);
    }
  }

  function loadAll() {
    loadStrip();
    loadHeatmap('cpu');
    loadHeatmap('memory');
    loadHeatmap('pool');
    loadHeatmap('db');
    loadTod();
    loadServices();
    loadPools();
    loadRuntime();
    updatedEl.textContent = `updated ${fmtTime(Date.now())}`;
  }
  loadAll();
  return () => Object.values(panels).forEach((p) => p.destroy());
}

function drawResourceHeatmap(p, data, kind) {
  const rows = data.rows || [];
  const k = KINDS[kind];
  if (!rows.length) { p.empty(k.empty, k.hint); return; }
  const max = data.max > 0 ? data.max : 1;
  const scaleMax = kind === 'pool' ? Math.max(1, max) : max;
  const what = { pool: 'pools', db: 'databases', statement: 'statements' }[data.by] || 'instances';
  const sampled = data.sample_every > 1 ? ` · estimated from 1 in ${data.sample_every} writes` : '';
  p.setSub(`${rows.length} ${what} · ${k.unit} · highest ${fmtValue(data.max, kind)}${sampled}${data.truncated ? ' · more rows left out' : ''}`);
  p.ready((body) => {
    const chart = h('div', { class: 'chart-box' });
    body.append(chart, h('div', { class: 'heat-legend muted' },
      h('span', null, fmtValue(0, kind)),
      h('span', { class: 'heat-legend-bar', style: `background:${heatGradient()}` }),
      h('span', null, fmtValue(scaleMax, kind))));
    return drawHeatmap(chart, {
      times: data.times_ms, stepMs: data.step_s * 1000,
      rows: rows.map((r) => ({ label: short(r.key) })),
      value: (t, r) => rows[r].values[t],
      color: (v) => heat(v / scaleMax),
      tip: (t, r) => [{ label: rows[r].key || 'unknown', value: fmtValue(rows[r].values[t], kind) }],
      unit: k.unit, height: Math.max(120, 22 * rows.length + 40), ariaLabel: k.title,
    });
  });
}

function short(s) {
  if (!s) return 'unknown';
  return s.length > 9 ? `${s.slice(0, 8)}…` : s;
}

export function drawTimeOfDay(p, data, kind) {
  const vals = data.values || [];
  let max = 0;
  let any = false;
  for (const row of vals) for (const v of row) if (v != null) { any = true; max = Math.max(max, v); }
  if (!any) { p.empty(KINDS[kind].empty, KINDS[kind].hint); return; }
  const scaleMax = kind === 'pool' ? Math.max(1, max) : max || 1;
  p.setSub(`${KINDS[kind].unit}, the mean of each hour of the week over the range`);
  p.ready((body) => {
    const head = h('tr', null, h('th', null, ''), Array.from({ length: 24 }, (_, i) => h('th', { scope: 'col' }, i % 3 === 0 ? String(i) : '')));
    const rows = vals.map((row, d) => h('tr', null, h('th', { scope: 'row' }, DAYS[d]),
      row.map((v, hr) => h('td', {
        class: 'tod-cell', title: `${DAYS[d]} ${String(hr).padStart(2, '0')}:00 · ${fmtValue(v, kind)}`,
        style: v == null ? '' : `background:${heat(v / scaleMax)}`, dataset: { v: v == null ? '' : String(v) },
      }))));
    body.append(h('table', { class: 'tod-grid', 'aria-label': `${kind} by hour of day and day of week` }, h('thead', null, head), h('tbody', null, rows)));
    return null;
  });
}

const lineOf = (a) => (a.lines && a.lines[0] ? a.lines[0].values : null);

export function drawStrip(p, lat, cpu, used, max) {
  const series = lat.series && lat.series[0];
  const cpuV = lineOf(cpu);
  if (!series || !series.count) { p.empty('No requests from these services in this range.', 'Send traces (OTLP) or POST /api/v1/requests.'); return; }
  if (!cpuV) { p.empty(KINDS.cpu.empty, KINDS.cpu.hint); return; }
  const stepMs = lat.step_s * 1000;
  const from = Math.min(lat.times_ms[0], cpu.times_ms[0]);
  const to = Math.max(lat.times_ms[lat.times_ms.length - 1], cpu.times_ms[cpu.times_ms.length - 1]) + stepMs;
  const usedV = lineOf(used);
  const maxV = lineOf(max);
  const share = usedV && maxV ? usedV.map((u, i) => (u != null && maxV[i] > 0 ? (100 * u) / maxV[i] : null)) : null;
  p.setSub(`p95 of ${fmtNum(series.count)} requests · CPU in cores${share ? ' · pools in use, % of their maximum' : ''}`);
  p.ready((body) => {
    const top = h('div', { class: 'chart-box', dataset: { strip: 'latency' } });
    const mid = h('div', { class: 'chart-box', dataset: { strip: 'cpu' } });
    const bottom = share ? h('div', { class: 'chart-box', dataset: { strip: 'pool' } }) : null;
    body.append(top, mid, bottom);
    const common = { stepMs, from, to, kind: 'line', height: 130, yTick: (v) => fmtNum(v) };
    const stops = [
      drawTimeChart(top, { ...common, times: lat.times_ms, unit: 'p95 ms', series: [{ key: 'p95', label: 'p95', color: PALETTE[3], values: series.points.map((pt) => pt.p95_ms) }], fmtValue: (v) => (v == null ? '–' : `${fmtNum(v)} ms`), ariaLabel: 'p95 latency' }),
      drawTimeChart(mid, { ...common, times: cpu.times_ms, unit: 'cores', series: [{ key: 'cpu', label: 'CPU', color: PALETTE[0], values: cpuV }], fmtValue: (v) => fmtValue(v, 'cpu'), ariaLabel: 'CPU in cores' }),
    ];
    if (bottom) stops.push(drawTimeChart(bottom, { ...common, times: used.times_ms, unit: '% of max', series: [{ key: 'pool', label: 'pools in use', color: PALETTE[1], values: share }], fmtValue: (v) => (v == null ? '–' : `${fmtNum(v)} %`), ariaLabel: 'Pool use' }));
    return () => stops.forEach((f) => f && f());
  });
}

function drawPools(p, used, max) {
  const lines = used.lines || [];
  if (!lines.length) { p.empty(KINDS.pool.empty, KINDS.pool.hint); return; }
  const maxOf = new Map((max.lines || []).map((l) => [l.key, l.values]));
  const series = [];
  lines.slice(0, 4).forEach((l, i) => {
    const color = PALETTE[i % PALETTE.length];
    series.push({ key: `${l.key}-used`, label: `${l.key || 'unknown'} used`, color, values: l.values });
    const m = maxOf.get(l.key);
    if (m) series.push({ key: `${l.key}-max`, label: `${l.key || 'unknown'} max`, color, values: m, dashed: true });
  });
  p.setSub(`${lines.length} pools · connections (instances summed)`);
  p.ready((body) => {
    const chart = h('div', { class: 'chart-box' });
    body.append(chart, legend(series));
    return drawTimeChart(chart, {
      times: used.times_ms, stepMs: used.step_s * 1000, series, kind: 'line', unit: 'connections', yTick: (v) => fmtNum(v),
      fmtValue: (v) => fmtNum(v), ariaLabel: 'Pool connections in use and maximum',
    });
  });
}

const RUNTIME_EMPTY = 'No runtime metrics from these services in this range.';
const RUNTIME_HINT = 'Send the runtime metrics of the OpenTelemetry instrumentations: v8js.memory.heap.used and .limit, '
  + 'v8js.gc.duration and nodejs.eventloop.delay.p99 (@opentelemetry/instrumentation-runtime-node), '
  + 'or jvm.memory.used, jvm.gc.duration, go.memory.used (docs/ATTRIBUTES.md).';

const fmtMs = (v) => (v == null || !Number.isFinite(v) ? '–' : `${fmtNum(v)} ms`);

// Up to three charts, each drawn when its measures have lines: heap used
// (solid) against its limit (dashed) per service, GC pause time, event-loop
// delay (p99).  None: what to send.
export function drawRuntime(p, { heap, limit, gc, loop }) {
  const lines = (a) => (a && a.lines) || [];
  const charts = [];
  if (lines(heap).length) {
    const limitOf = new Map(lines(limit).map((l) => [l.key, l.values]));
    const series = [];
    lines(heap).slice(0, 4).forEach((l, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({ key: `${l.key}-heap`, label: `${l.key || 'unknown'} heap used`, color, values: l.values });
      const m = limitOf.get(l.key);
      if (m) series.push({ key: `${l.key}-limit`, label: `${l.key || 'unknown'} heap limit`, color, values: m, dashed: true });
    });
    charts.push({ id: 'heap', data: heap, series, unit: 'bytes', fmt: (v) => fmtValue(v, 'memory'), title: 'Heap used and its limit' });
  }
  const perService = (a, what) => lines(a).slice(0, 8).map((l, i) => ({
    key: `${l.key}-${what}`, label: l.key || 'unknown', color: PALETTE[i % PALETTE.length], values: l.values,
  }));
  if (lines(gc).length) charts.push({ id: 'gc', data: gc, series: perService(gc, 'gc'), unit: 'ms', fmt: fmtMs, title: 'GC pause (mean)' });
  if (lines(loop).length) charts.push({ id: 'loop', data: loop, series: perService(loop, 'loop'), unit: 'ms', fmt: fmtMs, title: 'Event-loop delay (p99)' });
  if (!charts.length) { p.empty(RUNTIME_EMPTY, RUNTIME_HINT); return; }
  const services = new Set(charts.flatMap((c) => lines(c.data).map((l) => l.key)));
  p.setSub(`${services.size} services · ${charts.map((c) => c.title.toLowerCase()).join(' · ')}`);
  p.ready((body) => {
    const stops = charts.map((c) => {
      const box = h('div', { class: 'chart-box', dataset: { runtime: c.id } });
      body.append(h('h3', { class: 'chart-title small muted' }, c.title), box, legend(c.series));
      return drawTimeChart(box, {
        times: c.data.times_ms, stepMs: c.data.step_s * 1000, series: c.series, kind: 'line', unit: c.unit, height: 150,
        yTick: c.id === 'heap' ? (v) => fmtValue(v, 'memory') : (v) => fmtNum(v), fmtValue: c.fmt, ariaLabel: c.title,
      });
    });
    return () => stops.forEach((f) => f && f());
  });
}
