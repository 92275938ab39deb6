// app.js - the shell of the Performance tab: navigation between views, the
// filter bar, and the router that turns the URL into a mounted view.
//
// A view is { id, label, mount(el, ctx) } where mount fills `el` and may
// return a cleanup function (timers, listeners).  ctx gives the view:
//   state      the URL state (lib/state.js)
//   filters    the filter values to query the API with (defaults applied)
//   options    the answer of /api/v1/filters, or null
//   signal     aborted when the view is unmounted
//   navigate(patch, {replace})   change the URL state and re-render
//   setUrl(patch)                change the URL without re-rendering
// While `trace` is set in the URL the trace view is shown whatever the view,
// so any view can open a trace by navigating to {trace: id}.

import { h, clear, errorBox } from './lib/dom.js';
import { apiGet, isAbort } from './lib/api.js';
import {
  RANGES, DEFAULT_RANGE, FLAME_KEYS, readState, queryOf, patchState, effectiveFilters, compareVersions,
  latestLabel,
} from './lib/state.js';
import { tierLabel, tierHint } from './lib/format.js';
import { mountOverview } from './views/overview.js';
import { mountTraces } from './views/traces.js';
import { mountTrace } from './views/trace.js';
import { mountFlame } from './views/flame.js';
import { mountSlow } from './views/slow.js';
import { mountBottlenecks } from './views/bottlenecks.js';
import { mountRecommendations } from './views/recommendations.js';
import { mountSlos } from './views/slos.js';
import { mountChanges } from './views/changes.js';
import { mountResources } from './views/resources.js';
import { loadSession, needsSignIn, signInForm, sessionBadge } from './lib/session.js';

const VIEWS = [
  { id: 'overview', label: 'Overview', mount: mountOverview },
  { id: 'traces', label: 'Traces', mount: mountTraces },
  { id: 'flame', label: 'Flame graphs', mount: mountFlame },
  { id: 'slow', label: 'Slow requests', mount: mountSlow },
  { id: 'bottlenecks', label: 'Bottlenecks', mount: mountBottlenecks },
  { id: 'recommendations', label: 'Recommendations', mount: mountRecommendations },
  { id: 'changes', label: 'Changes', mount: mountChanges },
  { id: 'resources', label: 'Resources', mount: mountResources },
  { id: 'slos', label: 'SLOs', mount: mountSlos },
];
const DEFAULT_VIEW = 'traces';

const FILTER_LABELS = {
  env: 'Environment', department: 'Department', version: 'Version', intent: 'Intent',
  service: 'Service', endpoint: 'Endpoint', tool: 'Tool',
};
// filter key -> key of the /api/v1/filters answer
const OPTION_LISTS = {
  env: 'envs', department: 'departments', version: 'versions', intent: 'intents',
  service: 'services', endpoint: 'endpoints', tool: 'tools',
};

const els = {};
let current = { cleanup: null, ctrl: null };
let filterOptions = { range: null, data: null, error: null, pending: null, at: 0 };

function viewById(id) {
  return VIEWS.find((v) => v.id === id) || VIEWS.find((v) => v.id === DEFAULT_VIEW);
}

// --- navigation -----------------------------------------------------------

function navigate(patch, { replace = false } = {}) {
  const next = patchState(readState(), patch);
  const url = `${window.location.pathname}${queryOf(next)}`;
  if (url !== `${window.location.pathname}${window.location.search}`) {
    if (replace) window.history.replaceState(null, '', url);
    else window.history.pushState(null, '', url);
  }
  render();
}

function setUrl(patch) {
  const next = patchState(readState(), patch);
  window.history.replaceState(null, '', `${window.location.pathname}${queryOf(next)}`);
}

// Leaving a view for another through the navigation drops the flame
// graph's own parameters.
const NO_FLAME = Object.fromEntries(FLAME_KEYS.map((k) => [k, '']));

function renderNav(state) {
  const active = viewById(state.view).id;
  clear(els.nav);
  const list = h('ul', null);
  for (const v of VIEWS) {
    const patch = { view: v.id === DEFAULT_VIEW ? '' : v.id, trace: '', span: '', ...(v.id === active ? {} : NO_FLAME) };
    const href = queryOf(patchState(state, patch));
    const link = h('a', {
      href: `${window.location.pathname}${href}`,
      class: `nav-link${v.id === active ? ' is-active' : ''}`,
      'aria-current': v.id === active ? 'page' : null,
      onclick: (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        navigate(patch);
      },
    }, h('span', { class: 'nav-label' }, v.label));
    list.append(h('li', null, link));
  }
  els.nav.append(list);
}

// --- filter bar ------------------------------------------------------------

// The values of the filters for a time range, shared by the renders that
// need them and kept for a minute (new services show up after that).  A
// failure is shown, never fatal, and retried by the next render.
const OPTIONS_TTL_MS = 60000;

function loadFilterOptions(range) {
  const fresh = Date.now() - filterOptions.at < OPTIONS_TTL_MS;
  if (filterOptions.range === range && filterOptions.data && fresh) return Promise.resolve(filterOptions);
  if (filterOptions.range === range && filterOptions.pending) return filterOptions.pending;
  const entry = { range, data: null, error: null, pending: null, at: Date.now() };
  entry.pending = apiGet('/api/v1/filters', new URLSearchParams({ range }), { timeoutMs: 8000 })
    .then((data) => { entry.data = data; })
    .catch((err) => { entry.error = err; })
    .then(() => { entry.pending = null; return entry; });
  filterOptions = entry;
  return entry.pending;
}

// `isSet`: the value differs from the default, so the control is marked.
function selectControl(key, label, choices, value, onChange, isSet = value !== (choices[0] && choices[0].value)) {
  const id = `filter-${key}`;
  const select = h('select', { id, name: key, onchange: (ev) => onChange(ev.target.value) });
  for (const c of choices) {
    select.append(h('option', { value: c.value, selected: c.value === value }, c.label));
  }
  select.value = value;
  return h('div', { class: `filter filter-${key}${isSet ? ' is-set' : ''}` },
    h('label', { for: id }, label), select);
}

function valueChoices(key, state, options) {
  const seen = options ? [...(options[OPTION_LISTS[key]] || [])] : [];
  const current = state.filters[key];
  if (key === 'version') seen.sort(compareVersions);
  else seen.sort((a, b) => a.localeCompare(b));
  // A value from a shared link stays selectable even when this range has not
  // seen it.
  if (current && current !== 'all' && current !== 'latest' && !seen.includes(current)) seen.unshift(current);
  const choices = seen.map((v) => ({ value: v, label: v }));
  if (key === 'env') {
    return [{ value: 'all', label: 'All' }, ...choices];
  }
  if (key === 'version') {
    return [{ value: '', label: 'All' }, { value: 'latest', label: latestLabel(options, state.filters.service) },
      ...choices];
  }
  return [{ value: '', label: 'All' }, ...choices];
}

function renderFilters(state, options, effective, optionsError) {
  const setFilter = (key) => (value) => navigate({ filters: { [key]: value }, trace: '', span: '' });
  // The bar is rebuilt on every change; keep the keyboard where it was.
  const focused = els.filters.contains(document.activeElement) ? document.activeElement.id : null;
  const bar = clear(els.filters);

  bar.append(selectControl('range', 'Time range',
    RANGES.map((r) => ({ value: r, label: `Last ${r}` })), effective.range, setFilter('range'),
    !!state.filters.range && state.filters.range !== DEFAULT_RANGE));

  for (const key of ['env', 'department', 'version', 'intent', 'service', 'endpoint', 'tool']) {
    let value = state.filters[key] || '';
    if (key === 'env') value = state.filters.env || effective.env || 'all';
    const control = selectControl(key, FILTER_LABELS[key], valueChoices(key, state, options), value,
      setFilter(key), !!state.filters[key]);
    if (key === 'env' && !state.filters.env && effective.env) {
      control.title = 'Production is the default environment; choose All to see every environment';
    }
    bar.append(control);
  }

  bar.append(selectControl('tier', 'Perf. tier',
    [{ value: '', label: 'All' },
      ...((options && options.tiers) || []).map((t) => ({ value: t.id, label: `${tierLabel(t)} ${tierHint(t)}` }))],
    state.filters.tier || '', setFilter('tier')));

  bar.append(selectControl('status', 'Error status', [
    { value: '', label: 'All' }, { value: 'success', label: 'Success' },
    { value: 'error', label: 'Errors only' }, { value: 'timeout', label: 'Timeouts only' },
  ], state.filters.status || '', setFilter('status')));

  const min = h('input', {
    id: 'filter-min_duration_ms', name: 'min_duration_ms', type: 'number', min: '0', step: 'any',
    inputmode: 'decimal', placeholder: 'ms', title: 'Minimum duration in milliseconds', value: state.filters.min_duration_ms || '',
    onchange: (ev) => {
      const v = ev.target.value.trim();
      if (v !== '' && !(Number(v) >= 0)) { ev.target.setCustomValidity('a duration in ms, 0 or more'); ev.target.reportValidity(); return; }
      ev.target.setCustomValidity('');
      setFilter('min_duration_ms')(v);
    },
  });
  bar.append(h('div', { class: `filter filter-narrow${state.filters.min_duration_ms ? ' is-set' : ''}` },
    h('label', { for: 'filter-min_duration_ms' }, 'Min duration'), min));

  const anySet = Object.keys(state.filters).length > 0;
  bar.append(h('div', { class: 'filter filter-actions' },
    h('button', {
      type: 'button', class: 'btn btn-ghost', disabled: !anySet,
      onclick: () => navigate({ filters: Object.fromEntries(Object.keys(state.filters).map((k) => [k, null])), trace: '', span: '' }),
    }, 'Reset')));

  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
  clear(els.filterNotice);
  if (optionsError) {
    els.filterNotice.append(h('div', { class: 'notice notice-warn', role: 'status' },
      h('strong', null, 'Filter values unavailable.'), ' ', optionsError.message,
      ' — the filters still apply; only their lists of values are missing.'));
  }
}

// --- router ------------------------------------------------------------------

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  const state = readState();
  if (current.cleanup) { try { current.cleanup(); } catch (err) { console.error(err); } }
  if (current.ctrl) current.ctrl.abort();
  current = { cleanup: null, ctrl: new AbortController() };
  const ctrl = current.ctrl;

  renderNav(state);
  const range = RANGES.includes(state.filters.range) ? state.filters.range : DEFAULT_RANGE;
  // Draw the bar at once with what is known, then again with the values.
  const known = filterOptions.range === range ? filterOptions.data : null;
  renderFilters(state, known, effectiveFilters(state, known), null);

  const opts = await loadFilterOptions(range);
  if (seq !== renderSeq) return;
  const filters = effectiveFilters(state, opts.data);
  renderFilters(state, opts.data, filters, opts.error);

  const view = viewById(state.view);
  document.title = state.trace ? `Trace ${state.trace.slice(0, 8)} · hotpath` : `${view.label} · Performance · hotpath`;
  const container = clear(els.view);
  const ctx = {
    state, filters, options: opts.data, signal: ctrl.signal, navigate, setUrl,
  };
  try {
    const mount = state.trace ? mountTrace : view.mount;
    current.cleanup = mount(container, ctx) || null;
  } catch (err) {
    if (isAbort(err)) return;
    console.error(err);
    container.append(errorBox('This view failed:', err.message));
  }
}

async function checkHealth() {
  try {
    const body = await apiGet('/health', null, { timeoutMs: 5000 });
    const ok = body.status === 'ok';
    els.health.className = `health ${ok ? 'health-ok' : 'health-warn'}`;
    els.health.textContent = ok ? 'Connected' : `Server: ${body.status}`;
    els.health.title = ok ? 'hotpath answers /health' : JSON.stringify(body);
  } catch (err) {
    els.health.className = 'health health-bad';
    els.health.textContent = 'Server unreachable';
    els.health.title = err.message;
  }
}

// --- theme -------------------------------------------------------------------

function initTheme() {
  const stored = window.localStorage.getItem('hotpath-theme');
  const prefersLight = window.matchMedia && window.matchMedia('(prefers-color-scheme: light)').matches;
  const apply = (theme) => {
    document.documentElement.dataset.theme = theme;
    els.theme.setAttribute('aria-pressed', theme === 'light' ? 'true' : 'false');
    els.theme.textContent = theme === 'light' ? 'Dark theme' : 'Light theme';
  };
  apply(stored || (prefersLight ? 'light' : 'dark'));
  els.theme.addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
    window.localStorage.setItem('hotpath-theme', next);
    apply(next);
  });
}

async function init() {
  els.nav = document.getElementById('nav');
  els.filters = document.getElementById('filters');
  els.filterNotice = document.getElementById('filter-notice');
  els.view = document.getElementById('view');
  els.health = document.getElementById('health');
  els.theme = document.getElementById('theme-toggle');
  els.filters.addEventListener('submit', (ev) => ev.preventDefault());
  initTheme();
  window.addEventListener('popstate', render);
  checkHealth();
  await loadSession();
  const badge = sessionBadge();
  if (badge) document.querySelector('.topbar-right').prepend(badge);
  if (needsSignIn()) {
    els.view.append(signInForm());
    return;
  }
  render();
}

init();
