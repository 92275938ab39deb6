// bottlenecks.js - the Bottlenecks view (user story US-4): the components
// ranked by their impact on the critical path of the requests under the
// filter bar (GET /api/v1/bottlenecks, docs/API.md), each with its kind,
// its share of the critical-path time, what it costs a request, how many
// requests wait for it, its self time, the server's reason, the resource
// state of its service when its worst example ran (CPU, memory, pool),
// example traces and a link to the aggregated flame graph of its service.

import { h } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiParams, patchState, queryOf, FLAME_KEYS } from '../lib/state.js';
import { fmtDuration, fmtTime } from '../lib/format.js';
import { panel } from '../lib/panel.js';
import { fmtCount, fmtRatioPct } from '../lib/charts/units.js';
import { traceLink } from '../lib/tracelink.js';
import { resourceLine } from '../lib/resources.js';

const TOP = 30;

export const KINDS = {
  slowest_component: { label: 'Slowest component', cls: 'kind-slowest', hint: 'own code of the service on the critical path' },
  resource_contention: { label: 'Resource contention', cls: 'kind-contention', hint: 'waits for a pool, lock or queue, or runs while its service\'s CPU is saturated' },
  dependency: { label: 'Dependency', cls: 'kind-dependency', hint: 'a call out: database, cache, external API or another service' },
};

export function mountBottlenecks(el, ctx) {
  const { filters } = ctx;
  const updatedEl = h('span', { class: 'muted small', 'aria-live': 'polite' });
  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Bottlenecks'),
    h('span', { class: 'muted' }, 'ranked by impact: the critical-path time each adds to the average request'),
    h('div', { class: 'view-tools' },
      h('button', { type: 'button', class: 'btn', onclick: () => load() }, 'Refresh'),
      updatedEl)));
  const p = panel({ id: 'bottlenecks', title: 'Bottlenecks', wide: true });
  el.append(p.el);

  async function load() {
    p.loading();
    try {
      const data = await apiGet('/api/v1/bottlenecks', apiParams(filters, { top: String(TOP) }), { signal: ctx.signal });
      draw(p, data, ctx);
      updatedEl.textContent = `updated ${fmtTime(Date.now())}`;
    } catch (err) {
      if (isAbort(err)) return;
      p.error('Could not load the bottlenecks.', err);
    }
  }
  load();
  return () => p.destroy();
}

// Which part of the range the list covers: all of it, or a sample of whole
// traces across it (more requests than the server reads at once).
export function coverageText(data) {
  const span = data.covered_from_ms != null
    ? `, ${fmtTime(data.covered_from_ms)} to ${fmtTime(data.covered_to_ms)}` : '';
  const part = data.sampled
    ? `a sample: ${fmtCount(data.matched)} of the ${fmtCount(data.requests_in_range)} requests in range, whole traces chosen across it`
    : `all ${fmtCount(data.requests_in_range)} requests in range`;
  return `${fmtCount(data.requests)} requests analysed${span} (${part}`
    + `${data.nested ? `; ${fmtCount(data.nested)} nested ones counted in their callers` : ''}`
    + `${data.skipped ? `; ${fmtCount(data.skipped)} connection set-ups left out` : ''})`;
}

function draw(p, data, ctx) {
  const list = data.bottlenecks || [];
  p.setSub(`${coverageText(data)} · ${fmtDuration(data.total_critical_ms)} on their critical paths`);
  if (!list.length) {
    p.empty(data.requests ? 'No component has time on the critical path.' : `No requests in the last ${ctx.filters.range} that match these filters.`,
      data.requests ? null : 'Loosen a filter, or pick a longer time range.');
    return;
  }
  p.ready((body) => {
    body.append(h('ol', { class: 'bn-list' }, list.map((b) => item(b, ctx))));
    return null;
  });
}

function item(b, ctx) {
  const kind = KINDS[b.kind] || { label: b.kind, cls: 'kind-other', hint: '' };
  const share = Math.max(0, Math.min(1, b.share || 0));
  return h('li', { class: 'bn-item', dataset: { component: b.component, kind: b.kind, rank: String(b.rank) } },
    h('div', { class: 'bn-head' },
      h('span', { class: 'bn-rank mono' }, `#${b.rank}`),
      h('span', { class: 'bn-component', title: `span ${b.span_name} (${b.span_kind})` }, h('span', { class: 'svc' }, b.service), ': ', h('span', { class: 'endpoint' }, b.name)),
      h('span', { class: `badge bn-kind ${kind.cls}`, title: kind.hint }, kind.label),
      b.target ? h('span', { class: 'muted' }, `→ ${b.target}`) : null),
    h('div', { class: 'bn-share', title: 'share of the analysed requests\' critical-path time (each moment is charged to one component, so the shares add up to 100%)' },
      h('span', { class: 'bn-track', 'aria-hidden': 'true' }, h('span', { class: `bn-bar ${kind.cls}`, style: { width: `${Math.max(0.5, share * 100)}%` } })),
      h('span', { class: 'mono' }, fmtRatioPct(b.share)), h('span', { class: 'muted' }, ' of critical-path time')),
    h('dl', { class: 'bn-metrics' },
      metric('Per request', fmtDuration(b.critical_ms_per_request), `over every analysed request; ${fmtDuration(b.critical_ms_per_affected_request)} per request it is in`),
      metric('Per affected request', fmtDuration(b.critical_ms_per_affected_request), 'critical-path time per request whose path it is on'),
      metric('Requests affected', `${fmtCount(b.requests_affected)} (${fmtRatioPct(b.frequency)})`, 'requests whose critical path it is on'),
      metric('Self time p95', fmtDuration(b.self_p95_ms), `of its ${fmtCount(b.spans)} spans; average ${fmtDuration(b.self_avg_ms)}`),
      metric('Impact', fmtDuration(b.impact_ms), 'critical-path time added to the average analysed request: the rank')),
    h('p', { class: 'bn-reason' }, b.reason),
    resourceLine(b.resources, b.resources_reason, { service: b.service, when: 'its worst example' }),
    h('div', { class: 'bn-links' },
      (b.examples || []).length ? h('span', { class: 'muted' }, 'Examples:') : null,
      (b.examples || []).map((x) => h('span', { class: 'bn-example' },
        traceLink(x.trace_id, ctx), h('span', { class: 'muted small' }, ` ${fmtDuration(x.critical_ms)}`))),
      flameLink(b, ctx)));
}

function metric(label, value, title) {
  return h('div', { class: 'bn-metric', title },
    h('dt', null, label), h('dd', { class: 'mono' }, value));
}

// The Flame graphs view, aggregated over the component's service (and its
// endpoint, when the component is one), with the other filters kept.
function flameLink(b, ctx) {
  const endpoints = (ctx.options && ctx.options.endpoints) || [];
  const patch = {
    view: 'flame', trace: '', span: '',
    ...Object.fromEntries(FLAME_KEYS.map((k) => [k, ''])),
    filters: { service: b.service, ...(endpoints.includes(b.name) ? { endpoint: b.name } : {}) },
  };
  return h('a', {
    class: 'bn-flame', href: `${window.location.pathname}${queryOf(patchState(ctx.state, patch))}`,
    title: `the aggregated flame graph of ${b.service}${patch.filters.endpoint ? ` ${b.name}` : ''}`,
    onclick: (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      ctx.navigate(patch);
    },
  }, 'Flame graph →');
}
