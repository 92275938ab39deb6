// flame.js - the Flame graphs view: where the time of requests goes.
//
//   aggregated (default)  every request matching the filter bar merged by
//                         path, with one-click endpoint and tool choices
//   one trace (ftrace)    one request's span tree, same-named siblings merged
//   compare               two traces, two versions, two time ranges or two
//                         environments: the server's differential graph
//
// Each mode shows the graph (lib/flame/viewer.js) or, for the first two,
// the sandwich view (lib/flame/sandwich.js).  Data: GET /api/v1/flamegraph
// (docs/API.md).  The mode and its choices live in the URL (lib/state.js);
// search, tab, function and colour change in place without a reload.

import { h, append, clear, errorBox } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiParams, compareVersions } from '../lib/state.js';
import { fmtPercent } from '../lib/format.js';
import { tipContent } from '../lib/charts/tooltip.js';
import {
  fromAggregateJson, fromTraceJson, nameOf, pathOf, searchRegExp,
} from '../lib/flame/tree.js';
import { fromDiffJson } from '../lib/flame/diff.js';
import { createViewer, us } from '../lib/flame/viewer.js';
import { mountSandwich } from '../lib/flame/sandwich.js';
import { diffLegend, diffTip } from '../lib/flame/legend.js';

const MODES = [
  { id: '', label: 'Aggregated' }, { id: 'trace', label: 'One trace' }, { id: 'compare', label: 'Compare' },
];
const COMPARE_BY = [
  { id: 'traces', label: 'Two requests' }, { id: 'version', label: 'Two versions' },
  { id: 'range', label: 'Two time ranges' }, { id: 'env', label: 'Two environments' },
];
// Base windows of a time range comparison: how far before the current one.
const SHIFTS = [
  { id: 'previous', label: 'the period before' }, { id: '1d', label: 'the same period a day earlier', ms: 86400000 },
  { id: '7d', label: 'the same period a week earlier', ms: 604800000 },
];
const RANGE_MS = { m: 60000, h: 3600000, d: 86400000 };
const QUICK_MAX = 10;
const TIMEOUT_MS = 30000;

export function mountFlame(el, ctx) {
  const { state } = ctx;
  const mode = MODES.some((m) => m.id === state.fmode) ? state.fmode : '';
  const head = h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Flame graphs'),
    h('div', { class: 'view-tools' }, seg('Mode', MODES, mode, (id) => ctx.navigate({ fmode: id, ftab: '', ffn: '' }))));
  const controls = h('div', { class: 'flame-controls' });
  const body = h('div', { class: 'flame-body', dataset: { state: 'loading' } });
  el.append(h('section', { class: 'flame-view', 'aria-labelledby': 'flame-title' }, head, controls, body));
  head.querySelector('h1').id = 'flame-title';

  let shown = null;
  const request = mode === 'trace' ? traceControls(controls, ctx)
    : mode === 'compare' ? compareControls(controls, ctx) : aggregateControls(controls, ctx);
  if (!request) {
    body.dataset.state = 'empty';
    return null;
  }
  body.append(h('p', { class: 'muted loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading the flame graph…'));
  apiGet('/api/v1/flamegraph', request.params, { signal: ctx.signal, timeoutMs: TIMEOUT_MS })
    .then((data) => {
      clear(body);
      shown = showGraph(body, data, mode, ctx);
    })
    .catch((err) => {
      if (isAbort(err)) return;
      body.dataset.state = 'error';
      clear(body).append(errorBox(err.status === 404 ? 'Nothing to draw.' : 'Could not load the flame graph.', err.message));
    });
  return () => { if (shown) shown(); };
}

// --- the controls of each mode: they return {params} or null (nothing to ask) --

function seg(label, items, value, onPick) {
  return h('div', { class: 'seg', role: 'group', 'aria-label': label },
    items.map((it) => h('button', {
      type: 'button', class: 'seg-btn', 'aria-pressed': it.id === value ? 'true' : 'false',
      dataset: { id: it.id },
      onclick: () => { if (it.id !== value) onPick(it.id); },
    }, it.label)));
}

// Endpoints and tools as one-click choices: "where does time go for POST
// /tools/invoke" is a click.  They set the filter bar's filters.
function aggregateControls(el, ctx) {
  const quick = (key, label, values) => {
    const current = ctx.state.filters[key] || '';
    const list = [...(values || [])].sort((a, b) => a.localeCompare(b));
    if (current && !list.includes(current)) list.unshift(current);
    if (!list.length) return null;
    const shown = list.slice(0, QUICK_MAX);
    return h('div', { class: `flame-quick flame-quick-${key}`, role: 'group', 'aria-label': label },
      h('span', { class: 'flame-quick-label muted' }, label),
      [{ v: '', text: 'All' }, ...shown.map((v) => ({ v, text: v }))].map(({ v, text }) => h('button', {
        type: 'button', class: 'chip', 'aria-pressed': v === current ? 'true' : 'false', dataset: { value: v },
        onclick: () => ctx.navigate({ filters: { [key]: v } }),
      }, text)),
      list.length > QUICK_MAX ? h('span', { class: 'muted small' }, `+${list.length - QUICK_MAX} more in the filter bar`) : null);
  };
  const opts = ctx.options || {};
  append(el, [quick('endpoint', 'Endpoint', opts.endpoints), quick('tool', 'Tool', opts.tools)]);
  return { params: apiParams(ctx.filters) };
}

function traceControls(el, ctx) {
  const input = h('input', {
    id: 'flame-trace-id', class: 'mono flame-id-input', value: ctx.state.ftrace, placeholder: '32 hex digits',
    spellcheck: 'false', autocomplete: 'off',
  });
  el.append(h('form', {
    class: 'flame-form',
    onsubmit: (ev) => { ev.preventDefault(); ctx.navigate({ ftrace: input.value.trim().toLowerCase() }); },
  },
  h('label', { for: 'flame-trace-id' }, 'Trace id'), input, h('button', { type: 'submit', class: 'btn' }, 'Show'),
  ctx.state.ftrace ? h('button', {
    type: 'button', class: 'btn btn-ghost', onclick: () => ctx.navigate({ trace: ctx.state.ftrace, span: '' }),
  }, 'Open waterfall') : null,
  ctx.state.ftrace ? h('button', {
    type: 'button', class: 'btn btn-ghost', title: 'Compare this request with another one',
    onclick: () => ctx.navigate({ fmode: 'compare', fby: 'traces', fbase: ctx.state.ftrace, fcompare: '' }),
  }, 'Compare with…') : null));
  if (!ctx.state.ftrace) {
    el.append(h('p', { class: 'muted' }, 'Paste a trace id, or open a trace from the Traces list and choose ', h('em', null, 'Flame graph'), '.'));
    return null;
  }
  return { params: new URLSearchParams({ trace_id: ctx.state.ftrace }) };
}

function rangeMs(range) {
  const m = /^([0-9]+)([mhd])$/.exec(range || '');
  return m ? Number(m[1]) * RANGE_MS[m[2]] : 86400000;
}

function compareControls(el, ctx) {
  const { state } = ctx;
  const by = COMPARE_BY.some((b) => b.id === state.fby) ? state.fby : 'traces';
  el.append(h('div', { class: 'flame-compare-by' }, h('span', { class: 'muted' }, 'Compare'),
    seg('Compare what', COMPARE_BY, by, (id) => ctx.navigate({ fby: id, fbase: '', fcompare: '' }))));
  const sides = h('form', { class: 'flame-form flame-sides', onsubmit: (ev) => ev.preventDefault() });
  el.append(sides);
  const go = (base, cmp) => ctx.navigate({ fbase: base, fcompare: cmp });
  const params = apiParams(ctx.filters);
  const opts = ctx.options || {};

  if (by === 'traces') {
    const a = h('input', { id: 'flame-base', class: 'mono flame-id-input', value: state.fbase, placeholder: 'base trace id', spellcheck: 'false' });
    const b = h('input', { id: 'flame-compare', class: 'mono flame-id-input', value: state.fcompare, placeholder: 'compare trace id', spellcheck: 'false' });
    sides.addEventListener('submit', () => go(a.value.trim().toLowerCase(), b.value.trim().toLowerCase()));
    sides.append(h('label', { for: 'flame-base' }, 'Base'), a, h('label', { for: 'flame-compare' }, 'Compare'), b,
      h('button', { type: 'submit', class: 'btn' }, 'Compare'));
    if (!state.fbase || !state.fcompare) {
      el.append(h('p', { class: 'muted' }, 'Give two trace ids (from the Traces list or a trace\'s page).'));
      return null;
    }
    return { params: new URLSearchParams({ 'base.trace_id': state.fbase, 'compare.trace_id': state.fcompare }) };
  }
  if (by === 'range') {
    const len = rangeMs(ctx.filters.range);
    // "at:T" (from a change point): the range's length after T against before it
    const at = /^at:(\d+)$/.exec(state.fbase || '');
    if (at) {
      const t = Number(at[1]);
      sides.append(h('span', { class: 'flame-at' }, `After ${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC (compare) against before it (base)`));
      for (const k of ['range', 'from', 'to']) params.delete(k);
      params.set('base.from', String(t - len));
      params.set('base.to', String(t));
      params.set('compare.from', String(t));
      params.set('compare.to', String(Math.min(t + len, Date.now())));
      return { params };
    }
    const shift = SHIFTS.find((s) => s.id === state.fbase) || SHIFTS[0];
    sides.append(h('span', null, `The last ${ctx.filters.range} (compare) against`),
      selectOf('flame-base', 'Base window', SHIFTS.map((s) => ({ value: s.id, label: s.label })), shift.id, (v) => go(v, '')));
    params.set('base.to', String(Date.now() - (shift.ms || len)));
    return { params };
  }
  const key = by === 'version' ? 'version' : 'env';
  const values = [...(by === 'version' ? opts.versions || [] : opts.envs || [])];
  if (by === 'version') values.sort(compareVersions); else values.sort();
  for (const v of [state.fbase, state.fcompare]) if (v && !values.includes(v)) values.push(v);
  if (values.length < 2 && !(state.fbase && state.fcompare)) {
    el.append(h('p', { class: 'muted' }, `Only ${values.length} ${key === 'env' ? 'environment' : 'version'} in the last ${ctx.filters.range}: nothing to compare.`));
    return null;
  }
  // Default: the two highest versions (older as base), or the first two
  // environments.
  const base = state.fbase || (by === 'version' ? values[1] : values[0]);
  const cmp = state.fcompare || (by === 'version' ? values[0] : values[1]);
  const choices = values.map((v) => ({ value: v, label: v }));
  sides.append(selectOf('flame-base', 'Base', choices, base, (v) => go(v, cmp)),
    selectOf('flame-compare', 'Compare', choices, cmp, (v) => go(base, v)));
  params.set(`base.${key}`, base);
  params.set(`compare.${key}`, cmp);
  return { params };
}

function selectOf(id, label, choices, value, onChange) {
  const select = h('select', { id, onchange: (ev) => onChange(ev.target.value) },
    choices.map((c) => h('option', { value: c.value, selected: c.value === value }, c.label)));
  select.value = value;
  return h('span', { class: 'flame-select' }, h('label', { for: id }, label), select);
}

// --- the graph -------------------------------------------------------------------

function showGraph(body, data, mode, ctx) {
  const tree = data.mode === 'diff' ? fromDiffJson(data) : data.mode === 'trace' ? fromTraceJson(data) : fromAggregateJson(data);
  body.dataset.mode = data.mode;
  if (tree.n <= 1 || !(tree.value[0] > 0)) {
    body.dataset.state = 'empty';
    body.append(h('div', { class: 'empty' }, h('p', { class: 'empty-title' },
      data.mode === 'aggregate' ? `No requests in the last ${ctx.filters.range} that match these filters.` : 'Nothing to draw: no time recorded.'),
    h('p', { class: 'muted' }, 'Loosen a filter, pick a longer time range, or choose another endpoint.')));
    return null;
  }
  body.dataset.state = 'ready';
  const isDiff = data.mode === 'diff';
  const tab = !isDiff && ctx.state.ftab === 'sandwich' ? 'sandwich' : 'graph';
  let colorBy = ctx.state.fcolor === 'total' ? 'total' : 'self';

  const summary = h('p', { class: 'flame-summary muted' }, summaryText(data, tree));
  const searchInfo = h('span', { class: 'flame-search-info muted small', 'aria-live': 'polite' });
  const searchInput = h('input', {
    type: 'search', id: 'flame-search', class: 'flame-search', placeholder: 'Search (regex)', value: ctx.state.fsearch,
    'aria-label': 'Search frames by regular expression', spellcheck: 'false',
  });
  const backBtn = h('button', { type: 'button', class: 'btn', id: 'flame-back', disabled: true, title: 'Zoom out one step (Backspace)' }, '← Back');
  const resetBtn = h('button', { type: 'button', class: 'btn', id: 'flame-reset', disabled: true, title: 'Show everything (Escape)' }, 'Reset zoom');
  const tabs = isDiff ? null : seg('Show', [{ id: 'graph', label: 'Flame graph' }, { id: 'sandwich', label: 'Sandwich' }], tab,
    (id) => { ctx.setUrl({ ftab: id === 'sandwich' ? 'sandwich' : '' }); switchTab(id); });
  const toolbar = h('div', { class: 'flame-toolbar' }, tabs, searchInput, searchInfo,
    h('span', { class: 'flame-toolbar-end' }, backBtn, resetBtn));
  const legend = isDiff ? h('div', { class: 'flame-legend-wrap' }) : null;
  const selection = h('div', { class: 'flame-selection', 'aria-live': 'polite' });
  const graphHost = h('div', { class: 'flame-graph' });
  const sandwichHost = h('div', { class: 'flame-sandwich' });
  const extras = data.mode === 'trace' ? criticalPathList(data) : null;
  append(body, [summary, toolbar, legend, selection, graphHost, sandwichHost, extras]);

  const viewer = createViewer(graphHost, {
    tree, label: `Flame graph of ${summaryText(data, tree)}`, colorBy: isDiff ? 'diff' : 'name', diffBy: colorBy,
    tooltip: (t, i) => (isDiff ? diffTip(t, i) : frameTip(t, i, data)),
    onSelect: (i) => showSelection(selection, tree, i, data, ctx, () => { ctx.setUrl({ ftab: 'sandwich', ffn: nameOf(tree, i) }); switchTab('sandwich', nameOf(tree, i)); }),
    onZoom: () => { backBtn.disabled = !viewer.canGoBack; resetBtn.disabled = viewer.root === 0; },
  });
  backBtn.addEventListener('click', () => viewer.back());
  resetBtn.addEventListener('click', () => viewer.reset());
  if (legend) {
    const drawLegend = () => clear(legend).append(diffLegend(tree, colorBy, (by) => {
      colorBy = by;
      ctx.setUrl({ fcolor: by === 'total' ? 'total' : '' });
      viewer.setColor('diff', by);
      drawLegend();
    }));
    drawLegend();
  }

  const applySearch = () => {
    const text = searchInput.value.trim();
    const re = searchRegExp(text);
    ctx.setUrl({ fsearch: text });
    searchInput.setCustomValidity(re instanceof Error ? 'not a valid regular expression' : '');
    if (re instanceof Error) {
      searchInfo.textContent = `Not a regular expression: ${re.message}`;
      viewer.setSearch(null);
      return;
    }
    const r = viewer.setSearch(re);
    graphHost.dataset.searchPercent = r ? r.percent.toFixed(2) : '';
    graphHost.dataset.searchFrames = r ? String(r.frames) : '';
    searchInfo.textContent = r ? `${r.frames} frame${r.frames === 1 ? '' : 's'} match, ${r.percent.toFixed(1)} % of the total time` : '';
  };
  searchInput.addEventListener('input', applySearch);

  let sandwich = null;
  function switchTab(id, fn) {
    const sand = id === 'sandwich';
    graphHost.hidden = sand;
    selection.hidden = sand;
    backBtn.hidden = sand;
    resetBtn.hidden = sand;
    searchInput.hidden = sand;
    searchInfo.hidden = sand;
    sandwichHost.hidden = !sand;
    if (tabs) for (const b of tabs.children) b.setAttribute('aria-pressed', b.dataset.id === id ? 'true' : 'false');
    if (sand && !sandwich) {
      sandwich = mountSandwich(sandwichHost, tree, { name: fn || ctx.state.ffn, onPick: (name) => ctx.setUrl({ ffn: name }) });
    } else if (sand && fn) sandwich.pick(fn);
    if (!sand) viewer.draw();
  }
  switchTab(tab);
  if (ctx.state.fsearch) applySearch();
  return () => { viewer.destroy(); if (sandwich) sandwich.destroy(); };
}

function summaryText(data, tree) {
  if (data.mode === 'trace') return `trace ${data.trace_id.slice(0, 16)}…: ${data.spans} spans, ${us(tree.value[0])}`;
  if (data.mode === 'diff') {
    return `base ${data.base.traces} request${data.base.traces === 1 ? '' : 's'} (${data.base.spans} spans) against compare ${data.compare.traces} (${data.compare.spans} spans)`;
  }
  return `${data.traces} request${data.traces === 1 ? '' : 's'} merged, ${data.spans} spans, ${us(tree.value[0])} in all`;
}

function frameTip(t, i, data) {
  const rows = [
    { label: 'Total', value: us(t.value[i]), strong: true },
    { label: 'Self', value: us(t.self[i]) },
    { label: '% of total', value: fmtPercent(t.value[i], t.value[0]) },
  ];
  if (data.mode === 'aggregate' && i > 0) rows.push({ label: 'Requests', value: `${t.count[i]} of ${data.traces}` });
  if (data.mode === 'trace' && t.count[i] > 1) rows.push({ label: 'Spans merged', value: String(t.count[i]) });
  return tipContent(i === 0 ? 'all' : nameOf(t, i), rows, 'Click to zoom in');
}

// The clicked frame: its numbers and where to go from it.
function showSelection(el, t, i, data, ctx, openSandwich) {
  clear(el);
  if (i <= 0) return;
  const name = nameOf(t, i);
  const service = name.includes(': ') ? name.slice(0, name.indexOf(': ')) : '';
  const actions = [h('button', { type: 'button', class: 'btn btn-small', onclick: openSandwich }, 'Sandwich view')];
  if (data.mode === 'trace') {
    const spans = t.extra[i] || [];
    actions.push(h('button', {
      type: 'button', class: 'btn btn-small', onclick: () => ctx.navigate({ trace: data.trace_id, span: spans[0] || '' }),
    }, spans.length > 1 ? `Open in the waterfall (first of ${spans.length} spans)` : 'Open in the waterfall'));
  } else if (data.mode === 'aggregate' && service) {
    // the server names one trace a frame occurs in; the Traces list with
    // the same filters and this frame's service gives the others
    if (t.extra[i]) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small', title: 'A trace in which this frame occurs',
        onclick: () => ctx.navigate({ trace: t.extra[i], span: '' }),
      }, 'Example trace →'));
    }
    actions.push(h('button', {
      type: 'button', class: 'btn btn-small', title: 'The Traces list with these filters and this service',
      onclick: () => ctx.navigate({ view: '', filters: { service }, ...clearFlame() }),
    }, `Requests of ${service} →`));
  } else if (data.mode === 'diff' && ctx.state.fby === 'traces') {
    actions.push(h('button', { type: 'button', class: 'btn btn-small', onclick: () => ctx.navigate({ trace: ctx.state.fbase, span: '' }) }, 'Open base trace'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => ctx.navigate({ trace: ctx.state.fcompare, span: '' }) }, 'Open compare trace'));
  }
  el.append(h('div', { class: 'flame-selected', dataset: { name } },
    h('span', { class: 'flame-path muted small', title: pathOf(t, i).join(' → ') }, pathOf(t, i).slice(0, -1).join(' › ')),
    h('strong', null, name),
    h('span', { class: 'mono small' }, `total ${us(t.value[i])} (${fmtPercent(t.value[i], t.value[0])}), self ${us(t.self[i])}`),
    h('span', { class: 'flame-actions' }, actions)));
}

function clearFlame() {
  return { fmode: '', ftrace: '', fby: '', fbase: '', fcompare: '', ftab: '', ffn: '', fsearch: '', fcolor: '' };
}

// One trace: its critical path, the spans the request waited on.
function criticalPathList(data) {
  const steps = Array.isArray(data.critical_path) ? data.critical_path : [];
  if (!steps.length) return null;
  return h('details', { class: 'flame-critical' },
    h('summary', null, `Critical path: ${steps.length} span${steps.length === 1 ? '' : 's'}`),
    h('ol', { class: 'critical-list' }, steps.map((s) => h('li', null,
      h('span', null, `${s.service}: ${s.name}`), ' ',
      h('span', { class: 'mono muted small' }, us(s.contribution_us))))));
}
