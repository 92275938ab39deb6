// state.js - the dashboard's state lives in the URL query string, so a link
// reproduces what its sender saw and back/forward walk through changes.
//
//   view             which view of the Performance tab (default: traces)
//   range, env, department, version, intent, service, endpoint, tool,
//   tier, status, min_duration_ms
//                    filters, named as the API's parameters (docs/API.md)
//   order            newest|slowest (traces list)
//   refresh          "5s" while auto refresh is on
//   heatmap          latency|percentile (Overview's latency heatmap; default percentile)
//   trace, span      the open trace and its selected span
//   fmode, ftrace, fby, fbase, fcompare, ftab, ffn, fsearch, fcolor
//                    the Flame graphs view (views/flame.js): aggregated,
//                    one trace (ftrace) or compare (fby: traces|version|
//                    range|env, fbase/fcompare the two sides); the tab
//                    (graph or sandwich), the sandwich's function, the
//                    search, and the diff colour (self or total change)

export const RANGES = ['15m', '1h', '6h', '24h', '7d', '30d'];
export const DEFAULT_RANGE = '24h';

export const FILTER_KEYS = ['range', 'env', 'department', 'version', 'intent', 'service',
  'endpoint', 'tool', 'tier', 'status', 'min_duration_ms'];

export const FLAME_KEYS = ['fmode', 'ftrace', 'fby', 'fbase', 'fcompare', 'ftab', 'ffn', 'fsearch', 'fcolor'];

const OTHER_KEYS = ['order', 'refresh', 'heatmap', 'trace', 'span', ...FLAME_KEYS];

export function readState(search = window.location.search) {
  const p = new URLSearchParams(search);
  const filters = {};
  for (const key of FILTER_KEYS) {
    const v = p.get(key);
    if (v !== null && v !== '') filters[key] = v;
  }
  return {
    view: p.get('view') || '',
    filters,
    order: p.get('order') === 'slowest' ? 'slowest' : 'newest',
    refresh: p.get('refresh') === '5s',
    heatmap: p.get('heatmap') === 'latency' ? 'latency' : 'percentile',
    trace: p.get('trace') || '',
    span: p.get('span') || '',
    ...Object.fromEntries(FLAME_KEYS.map((k) => [k, p.get(k) || ''])),
  };
}

// The query string of a state, keys in a fixed order so equal states give
// equal URLs.  Defaults are left out.
export function queryOf(state) {
  const p = new URLSearchParams();
  if (state.view) p.set('view', state.view);
  for (const key of FILTER_KEYS) {
    const v = state.filters[key];
    if (v != null && v !== '') p.set(key, v);
  }
  if (state.order === 'slowest') p.set('order', 'slowest');
  if (state.refresh) p.set('refresh', '5s');
  if (state.heatmap === 'latency') p.set('heatmap', 'latency');
  if (state.trace) p.set('trace', state.trace);
  if (state.trace && state.span) p.set('span', state.span);
  for (const key of FLAME_KEYS) if (state[key]) p.set(key, state[key]);
  const q = p.toString();
  return q ? `?${q}` : '';
}

// A new state: `patch` holds top-level fields and, under `filters`, filter
// values (null or '' removes one).
export function patchState(state, patch) {
  const next = { ...state, filters: { ...state.filters } };
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'filters') {
      for (const [fk, fv] of Object.entries(value)) {
        if (fv == null || fv === '') delete next.filters[fk];
        else next.filters[fk] = String(fv);
      }
    } else if (OTHER_KEYS.includes(key) || key === 'view') {
      next[key] = value;
    }
  }
  return next;
}

// Highest version first: numeric parts compare as numbers ("2.10.0" >
// "2.9.1"), the rest as text.
export function compareVersions(a, b) {
  const pa = String(a).split(/([0-9]+)/);
  const pb = String(b).split(/([0-9]+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = /^[0-9]+$/.test(x);
    const ny = /^[0-9]+$/.test(y);
    if (nx && ny) return Number(y) - Number(x);
    return x < y ? 1 : -1;
  }
  return 0;
}

const PRODUCTION = /^prod(uction)?$/i;

// The filter values the API is asked with, after the dashboard's defaults:
// the seed's default environment is Production (when such an environment
// has been seen; "env=all" turns it off).  "version=latest" goes to the
// server as it is: there it means the newest version of each service (not
// the highest version string), which no one version value can say.
// `options` is the answer of /api/v1/filters or null.
export function effectiveFilters(state, options) {
  const f = { ...state.filters };
  if (!f.range || !RANGES.includes(f.range)) f.range = DEFAULT_RANGE;
  if (f.env === 'all') delete f.env;
  else if (!f.env) {
    const prod = options && (options.envs || []).find((e) => PRODUCTION.test(e));
    if (prod) f.env = prod;
  }
  return f;
}

// The label of the Latest choice: the version it stands for when that is one
// (one service selected, or every service at the same version), from the
// server's `latest_versions` (service -> its newest version).
export function latestLabel(options, service) {
  const latest = (options && options.latest_versions) || {};
  const versions = service ? [latest[service]] : [...new Set(Object.values(latest))];
  if (versions.length === 1 && versions[0]) return `Latest (${versions[0]})`;
  return versions.length > 1 ? 'Latest of each service' : 'Latest';
}

export function apiParams(filters, extra = {}) {
  const p = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    if (filters[key] != null && filters[key] !== '') p.set(key, filters[key]);
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}
