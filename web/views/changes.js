// changes.js - change over time (seed 001, level 2): the performance
// regression timeline with version markers (4.14, A4.4), the version
// benchmark and gate (4.8), environment parity (4.7, A4.9), the capacity
// planner (4.11), error patterns (4.12), and department and intent
// comparisons, all under the filter bar.
//
// Requests (docs/API.md, "Change over time"):
//   performance/timeseries   the p95 line of the selection
//   regressions              change points, week-over-week, deployments
//   performance/compare      by=version (with a service), department, intent, service
//   versions/compare         two versions of the service, on demand
//   parity                   with a service only (it reads requests)
//   capacity                 over the last 7 days
//   errors/patterns          groups and anomalies
// A change point opens the differential flame graph of before against
// after: by version when a deployment brought it, else by time.

import { h, clear } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiPost } from '../lib/request.js';
import { apiParams, compareVersions } from '../lib/state.js';
import { panel } from '../lib/panel.js';
import { s, svgRoot } from '../lib/charts/svg.js';
import { linearScale, niceMax, timeTicks } from '../lib/charts/scale.js';
import { fmtDuration, fmtRatioPct, fmtNum } from '../lib/charts/units.js';
import { fmtTime } from '../lib/format.js';

const P95_COLOR = '#e8a33d';
const DEPLOY_COLOR = '#4e9af1';
const WORSE_COLOR = '#f0565c';
const BETTER_COLOR = '#3fb68b';
const VERSION_COLORS = ['#e8a33d', '#4e9af1', '#b26ee0', '#3fb68b', '#f0565c', '#4cc3d9', '#d4c043', '#c98a5a'];

const pct = (r) => (r == null || !Number.isFinite(r) ? '—' : `${r > 0 ? '+' : ''}${(r * 100).toFixed(1)} %`);

export function mountChanges(el, ctx) {
  const { filters } = ctx;
  const get = (path, extra) => apiGet(path, apiParams(filters, extra), { signal: ctx.signal });
  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Changes'),
    h('span', { class: 'muted' }, filters.service ? `${filters.service}, last ${filters.range}` : `all services, last ${filters.range}`)));
  const panels = {
    timeline: panel({ id: 'timeline', chartId: '4.14', title: 'Regression timeline', wide: true }),
    versions: panel({ id: 'versions', chartId: '4.8', title: 'Version benchmark', wide: true }),
    parity: panel({ id: 'parity', chartId: '4.7', title: 'Environment parity', wide: true }),
    capacity: panel({ id: 'capacity', chartId: '4.11', title: 'Capacity planner' }),
    errors: panel({ id: 'error-patterns', chartId: '4.12', title: 'Error patterns' }),
    teams: panel({ id: 'teams', title: 'Departments and intents', wide: true }),
  };
  el.append(h('div', { class: 'overview-grid' }, Object.values(panels).map((p) => p.el)));
  const load = (p, what, fn) => {
    p.loading();
    return fn().catch((err) => { if (!isAbort(err)) p.error(`Could not load ${what}.`, err); });
  };
  load(panels.timeline, 'the regression timeline', () => loadTimeline(panels.timeline, ctx, get));
  load(panels.versions, 'the versions', () => loadVersions(panels.versions, ctx, get));
  load(panels.parity, 'the environments', () => loadParity(panels.parity, ctx, get));
  load(panels.capacity, 'the capacity', () => loadCapacity(panels.capacity, ctx, get));
  load(panels.errors, 'the error patterns', () => loadErrors(panels.errors, get));
  load(panels.teams, 'the comparisons', () => loadTeams(panels.teams, get));
  return () => Object.values(panels).forEach((p) => p.destroy());
}

// --- 4.14 regression timeline -----------------------------------------------------

async function loadTimeline(p, ctx, get) {
  const [ts, reg] = await Promise.all([get('/api/v1/performance/timeseries'), get('/api/v1/regressions')]);
  const series = ts.series[0];
  if (!series || !series.count) {
    p.empty(`No requests in the last ${ctx.filters.range} that match these filters.`);
    return;
  }
  const changes = reg.changes.filter((c) => c.measure === 'p95_ms' || c.measure === 'error_rate');
  const versions = reg.versions || [];
  p.setSub(`${changes.length} change point${changes.length === 1 ? '' : 's'}, ${reg.deployments.length} deployment${reg.deployments.length === 1 ? '' : 's'}`);
  p.ready((body) => {
    body.append(timelineChart(ts, [{ label: 'p95', color: P95_COLOR, values: series.points.map((pt) => pt.p95_ms) }],
      changes.filter((c) => !c.endpoint || ctx.filters.endpoint), reg.deployments));
    body.append(changesTable([...changes, ...reg.time_based, ...versions], ctx, reg.deployments));
  });
}

// p95 lines over the range (lines: [{label, color, values}]), a dashed
// marker per deployment and a dot per p95 change point.
function timelineChart(ts, lines, changes, deployments) {
  const width = 900, height = 200, M = { top: 14, right: 12, bottom: 22, left: 56 };
  const times = ts.times_ms, step = ts.step_s * 1000;
  const from = times[0], to = times[times.length - 1] + step;
  const all = lines.flatMap((l) => l.values).filter(Number.isFinite);
  const x = linearScale([from, to], [M.left, width - M.right]);
  const y = linearScale([0, niceMax(Math.max(...all, 1) * 1.1)], [height - M.bottom, M.top]);
  const svg = svgRoot(width, height, { role: 'img', 'aria-label': 'p95 over time with deployments and change points', class: 'chart-svg change-chart' });
  for (const t of y.ticks(4)) {
    svg.append(s('text', { x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, fmtDuration(t)));
    svg.append(s('line', { x1: M.left, x2: width - M.right, y1: y(t), y2: y(t), class: 'gridline' }));
  }
  for (const t of timeTicks(from, to, 6)) svg.append(s('text', { x: x(t.t), y: height - 6, 'text-anchor': 'middle', class: 'tick' }, t.label));
  for (const line of lines) {
    let d = '';
    line.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      d += `${d && Number.isFinite(line.values[i - 1]) ? 'L' : 'M'}${x(times[i] + step / 2).toFixed(1)},${y(v).toFixed(1)}`;
    });
    svg.append(s('path', { d, fill: 'none', stroke: line.color, 'stroke-width': 2, class: 'p95-line', dataset: { label: line.label } }, s('title', null, `${line.label} p95`)));
  }
  for (const dep of deployments) {
    if (dep.time_ms < from || dep.time_ms > to) continue;
    svg.append(s('g', { class: 'deploy-marker', dataset: { version: dep.version } },
      s('line', { x1: x(dep.time_ms), x2: x(dep.time_ms), y1: M.top, y2: height - M.bottom, stroke: DEPLOY_COLOR, 'stroke-dasharray': '4 3' }),
      s('text', { x: x(dep.time_ms) + 3, y: M.top + 8, class: 'tick', fill: DEPLOY_COLOR }, `${dep.service} ${dep.version}`),
      s('title', null, `${dep.service} ${dep.version} deployed ${fmtTime(dep.time_ms)} (${dep.source})`)));
  }
  // change points of every series sit on the time axis: their values are
  // their own service's or endpoint's, not this line's
  for (const c of changes) {
    if (c.measure !== 'p95_ms') continue;
    svg.append(s('circle', {
      cx: x(c.t_ms), cy: height - M.bottom - 6, r: 5, class: 'change-marker',
      fill: c.direction === 'worse' ? WORSE_COLOR : BETTER_COLOR, dataset: { id: c.id },
    }, s('title', null, `${c.service}${c.endpoint ? ` ${c.endpoint}` : ''}: p95 ${fmtDuration(c.before)} → ${fmtDuration(c.after)}`)));
  }
  return h('div', { class: 'chart-box' }, svg);
}

// The flame graph of before against after: two versions when a deployment
// brought the change, else the range's length before and after it.
function drillDown(c, ctx, deployments) {
  const filters = { service: c.service, endpoint: c.endpoint || ctx.filters.endpoint || '' };
  if (c.kind === 'version') return { view: 'flame', fmode: 'compare', fby: 'version', fbase: c.baseline, fcompare: c.candidate, ...filters };
  if (c.deployment) {
    const older = deployments.filter((d) => d.service === c.service && d.env === c.deployment.env && d.time_ms < c.deployment.time_ms)
      .sort((a, b) => b.time_ms - a.time_ms)[0];
    const known = (ctx.options?.versions || []).filter((v) => v !== c.deployment.version).sort(compareVersions);
    const base = older ? older.version : known.find((v) => compareVersions(v, c.deployment.version) > 0) || known[0];
    if (base) return { view: 'flame', fmode: 'compare', fby: 'version', fbase: base, fcompare: c.deployment.version, ...filters };
  }
  return { view: 'flame', fmode: 'compare', fby: 'range', fbase: `at:${c.t_ms}`, fcompare: '', ...filters };
}

function changesTable(rows, ctx, deployments) {
  if (!rows.length) return h('p', { class: 'muted' }, 'No change point, no week-over-week regression and no slower version in this range.');
  const tbody = h('tbody');
  for (const c of rows) {
    const state = h('span', { class: 'change-state muted' }, c.state || '');
    const flag = async (dismiss) => {
      try {
        if (dismiss) await apiPost('/api/v1/regressions/dismiss', { id: c.id, note: 'dismissed from the dashboard' });
        else await apiPost('/api/v1/regressions', { service: c.service, endpoint: c.endpoint || undefined, measure: c.measure, t_ms: c.t_ms, candidate: c.candidate });
        state.textContent = dismiss ? 'dismissed' : 'flagged';
      } catch (err) {
        state.textContent = err.serverMessage || err.message;
      }
    };
    const value = (v) => (c.measure === 'error_rate' ? fmtRatioPct(v) : fmtDuration(v));
    tbody.append(h('tr', { class: `change-row ${c.direction === 'better' ? 'better' : 'worse'}`, dataset: { id: c.id || '', kind: c.kind } },
      h('td', null, fmtTime(c.t_ms)),
      h('td', null, c.service, c.endpoint ? h('span', { class: 'muted' }, ` ${c.endpoint}`) : null),
      h('td', null, c.measure === 'error_rate' ? 'error rate' : 'p95', c.kind === 'week_over_week' ? h('span', { class: 'muted' }, ' vs last week')
        : c.kind === 'version' ? h('span', { class: 'muted' }, ` ${c.candidate} vs ${c.baseline}${c.gate === 'fail' ? ', gate fails' : ''}`) : null),
      h('td', { class: 'mono' }, `${value(c.before)} → ${value(c.after)}`),
      h('td', { class: 'mono' }, pct(c.rel_change)),
      h('td', null, c.deployment || c.candidate ? h('span', { class: 'badge deploy-badge' }, c.candidate || c.deployment.version) : '—'),
      h('td', null,
        h('button', { type: 'button', class: 'btn btn-small drill-flame', title: 'Differential flame graph of before against after', onclick: () => ctx.navigate(drillDown(c, ctx, deployments)) }, 'Flame diff'),
        c.id ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => flag(false) }, 'Flag') : null,
        c.id ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => flag(true) }, 'Not a regression') : null,
        state)));
  }
  const head = h('tr', null, ['Time', 'Where', 'Measure', 'Before → after', 'Change', 'Version', ''].map((t) => h('th', null, t)));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table changes-table', 'aria-label': 'Regressions' }, h('thead', null, head), tbody));
}

// --- 4.8 versions -------------------------------------------------------------------

async function loadVersions(p, ctx, get) {
  if (!ctx.filters.service) {
    p.empty('Choose a service to compare its versions.', 'The benchmark and the gate are per service.');
    return;
  }
  const [cmp, ts, deps] = await Promise.all([get('/api/v1/performance/compare', { by: 'version' }),
    get('/api/v1/performance/timeseries', { group_by: 'version', top: '8' }), get('/api/v1/deployments')]);
  const rows = cmp.rows.filter((r) => r.key && !r.other).sort((a, b) => compareVersions(a.key, b.key));
  if (rows.length === 0) {
    p.empty('No versioned requests of this service in the range.');
    return;
  }
  p.ready((body) => {
    const tbody = h('tbody', null, rows.map((r) => h('tr', { dataset: { version: r.key } },
      h('td', { class: 'mono' }, r.key), h('td', { class: 'mono' }, fmtNum(r.count)), h('td', { class: 'mono' }, fmtNum(r.rps)),
      h('td', { class: 'mono' }, fmtDuration(r.p50_ms)), h('td', { class: 'mono' }, fmtDuration(r.p95_ms)),
      h('td', { class: 'mono' }, fmtDuration(r.p99_ms)), h('td', { class: 'mono' }, fmtRatioPct(r.error_rate)))));
    const head = h('tr', null, ['Version', 'Requests', 'req/s', 'p50', 'p95', 'p99', 'Errors'].map((t) => h('th', null, t)));
    const lines = ts.series.filter((x) => x.key && !x.other).sort((a, b) => compareVersions(a.key, b.key))
      .map((x, i) => ({ label: x.key, color: VERSION_COLORS[i % VERSION_COLORS.length], values: x.points.map((pt) => pt.p95_ms) }));
    body.append(timelineChart(ts, lines, [], deps.deployments),
      h('div', { class: 'chart-legend versions-legend' }, lines.map((l) => h('span', { class: 'legend-item' },
        h('span', { class: 'legend-swatch', style: `background:${l.color}` }), ` ${l.label} p95 `))));
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table versions-table', 'aria-label': 'Versions' }, h('thead', null, head), tbody)));
    if (rows.length < 2) return;
    const verdict = h('p', { class: 'version-verdict', 'aria-live': 'polite' });
    const choices = rows.map((r) => h('option', { value: r.key }, r.key));
    const base = h('select', { id: 'version-base' }, choices.map((o) => o.cloneNode(true)));
    const cand = h('select', { id: 'version-candidate' }, choices);
    // newest first: the newest against the one before it
    base.value = rows[1].key;
    cand.value = rows[0].key;
    const run = async () => {
      verdict.textContent = 'Comparing…';
      try {
        const g = await get('/api/v1/versions/gate', { baseline: base.value, candidate: cand.value, max_p95_increase: '10%' });
        verdict.dataset.status = g.status;
        verdict.textContent = `${g.summary} Gate (p95 +10 % allowed): ${g.status}.`;
      } catch (err) {
        if (!isAbort(err)) verdict.textContent = err.message;
      }
    };
    body.append(h('form', { class: 'flame-form', onsubmit: (ev) => { ev.preventDefault(); run(); } },
      h('label', { for: 'version-base' }, 'Baseline'), base, h('label', { for: 'version-candidate' }, 'Candidate'), cand,
      h('button', { type: 'submit', class: 'btn', id: 'version-compare' }, 'Compare')), verdict);
    run();
  });
}

// --- 4.7 parity -----------------------------------------------------------------------

async function loadParity(p, ctx, get) {
  if (!ctx.filters.service) {
    p.empty('Choose a service to compare its environments.', 'Parity reads the service\'s requests in each environment.');
    return;
  }
  // every environment, whatever the filter bar's
  const ans = await apiGet('/api/v1/parity', apiParams({ ...ctx.filters, env: '' }), { signal: ctx.signal });
  const svc = ans.services[0];
  if (!svc || !svc.envs.length) {
    p.empty('No requests of this service in the range.');
    return;
  }
  p.ready((body) => {
    const tbody = h('tbody', null, svc.envs.map((e) => {
      const v = e.vs_reference;
      return h('tr', { class: v && v.significant ? 'significant' : '', dataset: { env: e.env } },
        h('td', null, e.env, e.reference ? h('span', { class: 'muted' }, ' (reference)') : null),
        h('td', { class: 'mono' }, fmtNum(e.count)), h('td', { class: 'mono' }, fmtDuration(e.p50_ms)),
        h('td', { class: 'mono' }, fmtDuration(e.p95_ms)), h('td', { class: 'mono' }, v ? `${pct(v.p95_change)} (${pct(v.p95_lo)} to ${pct(v.p95_hi)})` : '—'),
        h('td', { class: 'mono' }, fmtRatioPct(e.error_rate)), h('td', { class: 'mono' }, v ? pct(v.error_rate_delta) : '—'),
        h('td', null, v ? (v.significant ? 'significant' : 'no significant gap') : ''));
    }));
    const head = h('tr', null, ['Environment', 'Requests', 'p50', 'p95', 'p95 vs reference', 'Errors', 'Δ errors', ''].map((t) => h('th', null, t)));
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table parity-table', 'aria-label': 'Environments' }, h('thead', null, head), tbody)));
    const only = svc.reference_only || {};
    if (only.slower || only.more_errors) {
      body.append(h('p', { class: 'parity-alert' }, `Only in ${ans.reference}: ${[only.slower ? 'slower' : null, only.more_errors ? 'more errors' : null].filter(Boolean).join(' and ')} than every other environment.`));
    }
  });
}

// --- 4.11 capacity -------------------------------------------------------------------

async function loadCapacity(p, ctx, get) {
  const ans = await get('/api/v1/capacity', { range: '7d', horizon_days: '30' });
  if (!ans.services.length) {
    p.empty('No throughput in the last 7 days.');
    return;
  }
  p.ready((body) => {
    const tbody = h('tbody', null, ans.services.map((sv) => {
      const hw = sv.forecasts.find((f) => f.model === 'holt_winters') || sv.forecasts[0];
      const reach = hw && hw.reach_ms ? `${fmtTime(hw.reach_ms)}${hw.reach_earliest_ms ? ` (from ${fmtTime(hw.reach_earliest_ms)})` : ''}` : '—';
      return h('tr', { dataset: { service: sv.service } }, h('td', null, sv.service),
        h('td', { class: 'mono' }, fmtNum(sv.peak_rps)), h('td', { class: 'mono' }, sv.capacity_rps == null ? 'not set' : fmtNum(sv.capacity_rps)),
        h('td', { class: 'mono' }, sv.utilisation == null ? '—' : fmtRatioPct(sv.utilisation)), h('td', null, reach));
    }));
    const head = h('tr', null, ['Service', 'Peak req/s', 'Capacity', 'Utilisation', 'Reached'].map((t) => h('th', null, t)));
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'grid compare-table capacity-table', 'aria-label': 'Capacity' }, h('thead', null, head), tbody)));
  });
}

// --- 4.12 error patterns -------------------------------------------------------------

async function loadErrors(p, get) {
  const ans = await get('/api/v1/errors/patterns');
  if (!ans.groups.length) {
    p.empty('No failed requests in this range.');
    return;
  }
  p.setSub(`${fmtNum(ans.failed)} failed, ${ans.anomalies.length} anomal${ans.anomalies.length === 1 ? 'y' : 'ies'}`);
  p.ready((body) => {
    // treemap as a row of areas: each group's width its share
    body.append(h('div', { class: 'error-treemap', role: 'img', 'aria-label': 'Failures by type, service and severity' },
      ans.groups.slice(0, 12).map((g) => h('div', {
        class: `tm-cell sev-${g.severity}`, style: `flex-grow:${Math.max(g.share, 0.02)}`,
        title: `${g.error_type || 'unknown'} in ${g.service} (${g.severity}): ${g.count}`,
      }, h('span', null, g.error_type || 'unknown'), h('span', { class: 'muted small' }, ` ${g.service}`)))));
    for (const a of ans.anomalies.slice(0, 10)) {
      body.append(h('p', { class: 'error-anomaly' }, `${fmtTime(a.t_ms)} ${a.service}: ${a.errors} failures against a usual ${fmtNum(a.median)} (score ${fmtNum(a.score)})`));
    }
  });
}

// --- departments and intents --------------------------------------------------------

async function loadTeams(p, get) {
  const [dep, intent, svc] = await Promise.all(['department', 'intent', 'service'].map((by) => get('/api/v1/performance/compare', { by })));
  const table = (title, rows) => h('div', { class: 'team-table' }, h('h3', null, title),
    h('table', { class: 'grid compare-table' }, h('tbody', null, rows.filter((r) => !r.other).map((r) => h('tr', null,
      h('td', null, r.key || '—'), h('td', { class: 'mono' }, fmtDuration(r.p95_ms)), h('td', { class: 'mono' }, fmtRatioPct(r.error_rate)), h('td', { class: 'mono' }, fmtNum(r.rps)))))));
  const bySpeed = svc.rows.filter((r) => !r.other && Number.isFinite(r.p95_ms)).sort((a, b) => a.p95_ms - b.p95_ms);
  p.ready((body) => {
    body.append(h('div', { class: 'team-tables' },
      table('Departments', dep.rows), table('Intents', intent.rows),
      table('Fastest services (p95)', bySpeed.slice(0, 3)), table('Slowest services (p95)', bySpeed.slice(-3).reverse())));
  });
}
