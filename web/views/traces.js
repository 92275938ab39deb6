// traces.js - the Traces view: the recent requests matching the filters
// (GET /api/v1/traces), newest or slowest first, with auto refresh.  A row
// opens its trace (?trace=ID&span=ID, see views/trace.js).

import { h, clear, errorBox } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiParams } from '../lib/state.js';
import { fmtDuration, fmtTime, fmtIso, tierOf, tierLabel } from '../lib/format.js';

const LIMIT = 100;
const REFRESH_MS = 5000;

const STATUS_LABELS = { ok: 'OK', error: 'Error', timeout: 'Timeout' };

export function mountTraces(el, ctx) {
  const { state, navigate } = ctx;
  const countEl = h('span', { class: 'muted traces-count', 'aria-live': 'polite' });
  const updatedEl = h('span', { class: 'muted small' });
  const body = h('div', { class: 'traces-body' });

  const orderButton = (order, label) => h('button', {
    type: 'button', class: 'seg-btn', 'aria-pressed': state.order === order ? 'true' : 'false',
    onclick: () => { if (state.order !== order) navigate({ order }); },
  }, label);

  el.append(
    h('div', { class: 'view-head' },
      h('h1', { class: 'view-title' }, 'Traces'), countEl,
      h('div', { class: 'view-tools' },
        h('div', { class: 'seg', role: 'group', 'aria-label': 'Sort order' },
          orderButton('newest', 'Newest'), orderButton('slowest', 'Slowest')),
        h('button', {
          type: 'button', class: 'btn toggle', id: 'auto-refresh',
          'aria-pressed': state.refresh ? 'true' : 'false',
          title: 'Reload the list every 5 seconds',
          onclick: () => navigate({ refresh: !state.refresh }, { replace: true }),
        }, h('span', { class: 'toggle-dot', 'aria-hidden': 'true' }), 'Auto refresh 5s'),
        h('button', { type: 'button', class: 'btn', onclick: () => load() }, 'Refresh'),
        updatedEl)),
    body);

  let inflight = null;

  async function load() {
    if (inflight) return;
    const params = apiParams(ctx.filters, { order: state.order, limit: String(LIMIT) });
    inflight = apiGet('/api/v1/traces', params, { signal: ctx.signal });
    try {
      const data = await inflight;
      draw(Array.isArray(data.traces) ? data.traces : [], data.counted);
      updatedEl.textContent = `updated ${fmtTime(Date.now())}`;
    } catch (err) {
      if (isAbort(err)) return;
      clear(body).append(errorBox('Could not load traces.', err.message));
      countEl.textContent = '';
    } finally {
      inflight = null;
    }
  }

  // `counted`: "edge requests" (one row per trace) or "entry spans of SERVICE".
  function draw(traces, counted) {
    const focusedKey = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.key : null;
    clear(body);
    const what = state.order === 'slowest' ? 'slowest' : 'most recent';
    const scope = counted === 'edge requests' ? ' · one per trace' : counted ? ` · ${counted}` : '';
    countEl.textContent = (traces.length >= LIMIT
      ? `${traces.length} ${what} requests (limit ${LIMIT})`
      : `${traces.length} request${traces.length === 1 ? '' : 's'}`) + scope;
    if (traces.length === 0) {
      body.append(emptyState(ctx));
      return;
    }
    const maxMs = Math.max(...traces.map((t) => t.duration_ms || 0), 0.001);
    const tbody = h('tbody', null);
    for (const t of traces) tbody.append(row(t, maxMs));
    const table = h('table', { class: 'grid traces-table', 'aria-label': 'Requests' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'col-time' }, 'Time'),
        h('th', { scope: 'col' }, 'Service'),
        h('th', { scope: 'col' }, 'Endpoint'),
        h('th', { scope: 'col', class: 'col-duration', 'aria-sort': state.order === 'slowest' ? 'descending' : null }, 'Duration'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Env'),
        h('th', { scope: 'col' }, 'Version'))),
      tbody);
    if (state.order === 'newest') table.querySelector('.col-time').setAttribute('aria-sort', 'descending');
    body.append(h('div', { class: 'table-wrap' }, table));
    if (focusedKey) {
      const again = tbody.querySelector(`tr[data-key="${CSS.escape(focusedKey)}"]`);
      if (again) again.focus();
    }
  }

  function open(t) {
    navigate({ trace: t.trace_id, span: t.span_id || '' });
  }

  function row(t, maxMs) {
    const ms = t.duration_ms;
    const tier = tierOf(ms, ctx.options && ctx.options.tiers);
    const status = STATUS_LABELS[t.status] ? t.status : 'ok';
    const pct = Math.max(0.5, (ms / maxMs) * 100);
    const endpoint = t.endpoint || t.name || '';
    return h('tr', {
      tabindex: '0', class: 'trace-row', dataset: { key: `${t.trace_id}/${t.span_id}`, traceId: t.trace_id },
      'aria-label': `${t.service} ${endpoint}, ${fmtDuration(ms)}, ${STATUS_LABELS[status]}: open trace`,
      onclick: () => open(t),
      onkeydown: (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(t); }
        else if (ev.key === 'ArrowDown' && ev.currentTarget.nextElementSibling) { ev.preventDefault(); ev.currentTarget.nextElementSibling.focus(); }
        else if (ev.key === 'ArrowUp' && ev.currentTarget.previousElementSibling) { ev.preventDefault(); ev.currentTarget.previousElementSibling.focus(); }
      },
    },
    h('td', { class: 'col-time mono', title: fmtIso(t.start_ms) }, fmtTime(t.start_ms)),
    h('td', { class: 'col-service' }, h('span', { class: 'svc' }, t.service || '–')),
    h('td', { class: 'col-endpoint', title: t.name || '' },
      h('span', { class: 'endpoint' }, endpoint),
      t.tool ? h('span', { class: 'tag', title: 'tool' }, t.tool) : null),
    h('td', { class: 'col-duration' },
      h('div', { class: 'dur' },
        h('span', { class: 'dur-text mono' }, fmtDuration(ms)),
        h('span', { class: 'dur-track', 'aria-hidden': 'true' },
          h('span', { class: `dur-bar${tier ? ` tier-${tier.id}` : ''}`, style: { width: `${pct}%` },
            title: tier ? tierLabel(tier) : '' })))),
    h('td', { class: 'col-status' }, h('span', { class: `badge badge-${status}` }, STATUS_LABELS[status])),
    h('td', { class: 'col-env' }, t.env || '–'),
    h('td', { class: 'col-version mono' }, t.version || '–'));
  }

  load();
  let timer = null;
  if (state.refresh) {
    timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  }
  return () => { if (timer) clearInterval(timer); };
}

function emptyState(ctx) {
  const filtered = Object.keys(ctx.state.filters).some((k) => k !== 'range');
  return h('div', { class: 'empty' },
    h('p', { class: 'empty-title' }, `No requests in the last ${ctx.filters.range}${filtered || ctx.filters.env ? ' that match these filters' : ''}.`),
    filtered
      ? h('p', { class: 'muted' }, 'Loosen a filter, or pick a longer time range.')
      : h('p', { class: 'muted' },
        'Send traces with any OpenTelemetry SDK or Collector to ',
        h('code', null, `${window.location.origin}/v1/traces`),
        ' (OTLP/HTTP, protobuf or JSON), or the simple request model to ',
        h('code', null, '/api/v1/requests'), '.'),
    ctx.filters.env && !ctx.state.filters.env
      ? h('p', { class: 'muted' }, `Only the ${ctx.filters.env} environment is shown by default; choose Environment: All to see the others.`)
      : null);
}
