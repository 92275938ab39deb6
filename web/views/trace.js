// trace.js - one trace (GET /api/v1/traces/{id}) as a waterfall: a row per
// span, indented by its depth in the parent tree, its bar placed on the
// trace's time axis; a span's detail panel (attributes, resource, events,
// links, timing with self time).  Spans whose parent is not in the trace are
// roots.  Times are computed from the nanosecond strings with BigInt, so
// offsets are exact whatever the epoch.  The critical path (from GET
// /api/v1/flamegraph?trace_id=…) is highlighted when it arrives; the trace
// links to its flame graph (views/flame.js).

import { h, append, clear, errorBox } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { fmtDuration, fmtTick, fmtTime, fmtIso, fmtValue, fmtPercent, niceStep } from '../lib/format.js';

// Service colours: distinct on dark and light backgrounds; red is kept for
// errors.
const PALETTE = ['#4e9af1', '#e8a33d', '#3fb68b', '#b26ee0', '#d4c043', '#4cc3d9',
  '#e070b0', '#8c9bab', '#9cc74a', '#c98a5a'];
const KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS_NAMES = ['UNSET', 'OK', 'ERROR'];

export function mountTrace(el, ctx) {
  const { state, navigate } = ctx;
  const traceId = state.trace;
  const back = h('button', {
    type: 'button', class: 'btn btn-back', onclick: () => {
      // Back to the list this trace was opened from when it was, else to
      // the list of the current filters.
      navigate({ trace: '', span: '' });
    },
  }, '← Traces');
  const flame = h('button', {
    type: 'button', class: 'btn', id: 'trace-flame', title: 'This trace as a flame graph',
    onclick: () => navigate({ trace: '', span: '', view: 'flame', fmode: 'trace', ftrace: traceId }),
  }, 'Flame graph');
  const tools = h('div', { class: 'view-tools' }, flame);
  const head = h('div', { class: 'view-head' }, back,
    h('h1', { class: 'view-title' }, 'Trace ', h('span', { class: 'mono' }, traceId)), tools);
  // The critical path comes from the flame graph endpoint, in parallel; a
  // failure only loses the highlight.
  const critical = apiGet('/api/v1/flamegraph', new URLSearchParams({ trace_id: traceId, format: 'json' }), { signal: ctx.signal })
    .then((d) => (Array.isArray(d.critical_path) ? d.critical_path : []))
    .catch((err) => (isAbort(err) ? null : err));
  const body = h('div', { class: 'trace-view' }, h('p', { class: 'muted loading' }, 'Loading trace…'));
  el.append(head, body);

  apiGet(`/api/v1/traces/${encodeURIComponent(traceId)}`, null, { signal: ctx.signal })
    .then((data) => {
      const spans = Array.isArray(data.spans) ? data.spans : [];
      clear(body);
      if (spans.length === 0) {
        body.append(h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'This trace has no spans.')));
        return;
      }
      const model = buildModel(spans);
      clear(head).append(back, traceTitle(model, traceId), tools);
      drawTrace(body, model, ctx, critical);
    })
    .catch((err) => {
      if (isAbort(err)) return;
      clear(body).append(errorBox(err.status === 404 ? 'Trace not found.' : 'Could not load the trace.', err.message));
    });
  return null;
}

// --- model -------------------------------------------------------------------

function bigNs(ns, ms) {
  if (typeof ns === 'string' && /^[0-9]+$/.test(ns)) return BigInt(ns);
  if (Number.isFinite(ms)) return BigInt(Math.round(ms * 1e6));
  return null;
}

export function buildModel(spans) {
  const raw = spans.map((s) => {
    const start = bigNs(s.start_ns, s.start_ms) ?? 0n;
    let end = bigNs(s.end_ns, null);
    if (end === null) end = start + BigInt(Math.round((s.duration_ms || 0) * 1e6));
    if (end < start) end = start;
    return { span: s, startNs: start, endNs: end };
  });
  let base = raw[0].startNs;
  let last = raw[0].endNs;
  for (const r of raw) {
    if (r.startNs < base) base = r.startNs;
    if (r.endNs > last) last = r.endNs;
  }
  const toMs = (ns) => Number(ns - base) / 1e6;
  const nodes = raw.map((r, i) => ({
    index: i,
    span: r.span,
    id: r.span.span_id || `#${i}`,
    start: toMs(r.startNs),
    end: toMs(r.endNs),
    duration: Number.isFinite(r.span.duration_ms) ? r.span.duration_ms : toMs(r.endNs) - toMs(r.startNs),
    service: r.span.service || (r.span.resource && r.span.resource['service.name']) || 'unknown',
    error: !!(r.span.status && r.span.status.code === 2),
    children: [],
    parent: null,
    depth: 0,
    missingParent: false,
    self: 0,
  }));

  const byId = new Map();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  const roots = [];
  for (const n of nodes) {
    const pid = n.span.parent_span_id || '';
    const parent = pid && pid !== n.id ? byId.get(pid) : null;
    if (parent && byId.get(n.id) === n) {
      n.parent = parent;
      parent.children.push(n);
    } else {
      n.missingParent = !!pid && !parent;
      roots.push(n);
    }
  }
  const byStart = (a, b) => a.start - b.start || a.index - b.index;
  roots.sort(byStart);

  // Depth-first order; a parent cycle (bad data) cannot loop: nodes not
  // reached from a root are appended as roots afterwards.
  const order = [];
  const seen = new Set();
  const visit = (root) => {
    const stack = [[root, 0]];
    while (stack.length) {
      const [n, depth] = stack.pop();
      if (seen.has(n)) continue;
      seen.add(n);
      n.depth = depth;
      order.push(n);
      n.children.sort(byStart);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], depth + 1]);
    }
  };
  for (const r of roots) visit(r);
  for (const n of nodes) {
    if (!seen.has(n)) {
      if (n.parent) n.parent.children = n.parent.children.filter((c) => c !== n);
      n.parent = null;
      roots.push(n);
      visit(n);
    }
  }
  for (const n of nodes) n.self = selfTime(n);

  const services = [];
  for (const n of [...nodes].sort(byStart)) if (!services.includes(n.service)) services.push(n.service);
  const colors = new Map(services.map((s, i) => [s, colorFor(i)]));

  return {
    nodes, order, roots, services, colors,
    total: Math.max(toMs(last), 0.001),
    baseNs: base,
    startMs: Number(base / 1000000n) + Number(base % 1000000n) / 1e6,
    errors: nodes.filter((n) => n.error).length,
    toMs,
    critical: new Map(), // span id -> contribution to the critical path, µs
  };
}

function colorFor(i) {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${(i * 137.508) % 360} 55% 58%)`;
}

// Self time: the span's duration minus the union of its children's
// intervals, clipped to the span (a child that outlives its parent only
// counts for the overlap).
export function selfTime(n) {
  const parts = n.children
    .map((c) => [Math.max(c.start, n.start), Math.min(c.end, n.end)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let curA = null;
  let curB = null;
  for (const [a, b] of parts) {
    if (curB === null || a > curB) {
      if (curB !== null) covered += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) curB = b;
  }
  if (curB !== null) covered += curB - curA;
  return Math.max(0, n.duration - covered);
}

// --- drawing -----------------------------------------------------------------

function traceTitle(model, traceId) {
  const root = model.roots[0];
  return h('h1', { class: 'view-title' },
    h('span', { class: 'svc-dot', style: { background: model.colors.get(root.service) }, 'aria-hidden': 'true' }),
    h('span', null, root.span.name || '(unnamed span)'),
    h('span', { class: 'muted title-svc' }, root.service),
    h('span', { class: 'mono muted small title-id', title: 'trace id' }, traceId));
}

function drawTrace(body, model, ctx, critical) {
  const stats = h('dl', { class: 'stats' },
    stat('Duration', fmtDuration(model.total)),
    stat('Spans', String(model.nodes.length)),
    stat('Services', String(model.services.length)),
    stat('Errors', String(model.errors), model.errors ? 'stat-bad' : null),
    stat('Depth', String(Math.max(...model.nodes.map((n) => n.depth)) + 1)),
    stat('Started', fmtTime(model.startMs), null, fmtIso(model.startMs)));
  const orphans = model.roots.filter((r) => r.missingParent).length;
  const notes = orphans
    ? h('p', { class: 'notice notice-warn small' },
      `${orphans} span${orphans === 1 ? ' has a parent' : 's have parents'} not received (yet); shown as root${orphans === 1 ? '' : 's'}.`)
    : null;

  const criticalSlot = h('li', { class: 'legend-critical', hidden: true });
  const legend = h('ul', { class: 'legend', 'aria-label': 'Services' },
    model.services.map((s) => {
      const count = model.nodes.filter((n) => n.service === s).length;
      return h('li', null,
        h('span', { class: 'svc-dot', style: { background: model.colors.get(s) }, 'aria-hidden': 'true' }),
        h('span', null, s), h('span', { class: 'muted small' }, String(count)));
    }),
    model.errors ? h('li', { class: 'legend-error' },
      h('span', { class: 'err-swatch', 'aria-hidden': 'true' }), h('span', null, 'error span')) : null,
    criticalSlot);

  const detail = h('aside', { class: 'span-detail', 'aria-label': 'Span detail', hidden: true });
  const waterfall = h('div', { class: 'waterfall', role: 'treegrid', 'aria-label': 'Spans of the trace', 'aria-readonly': 'true' });
  const layout = h('div', { class: 'trace-layout' }, waterfall, detail);
  append(body, [h('div', { class: 'trace-summary' }, stats, legend), notes, layout]);

  const step = niceStep(model.total, 5);
  waterfall.style.setProperty('--tick', `${(step / model.total) * 100}%`);
  const axis = h('div', { class: 'wf-axis', role: 'columnheader', 'aria-label': `Time, 0 to ${fmtDuration(model.total)}` });
  // A label too close to the end would not fit; its grid line stays.
  for (let i = 0; i * step <= model.total * 0.9; i++) {
    axis.append(h('span', { class: 'wf-tick', style: { left: `${((i * step) / model.total) * 100}%` }, 'aria-hidden': 'true' },
      fmtTick(i * step, step, model.total)));
  }
  const rows = h('div', { class: 'wf-rows', role: 'rowgroup' });
  waterfall.append(h('div', { class: 'wf-head', role: 'row' },
    h('div', { class: 'wf-name', role: 'columnheader' }, 'Span'), axis), rows);

  const collapsed = new Set();
  let selected = null;
  const rowEls = new Map();

  function drawRows() {
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.spanId : null;
    clear(rows);
    rowEls.clear();
    for (const n of model.order) {
      if (hiddenByCollapse(n)) continue;
      const r = spanRow(n);
      rowEls.set(n, r);
      rows.append(r);
    }
    if (focusedId) {
      const again = [...rowEls.entries()].find(([n]) => n.id === focusedId);
      if (again) again[1].focus();
    }
  }

  function hiddenByCollapse(n) {
    for (let p = n.parent; p; p = p.parent) if (collapsed.has(p)) return true;
    return false;
  }

  function toggle(n, open) {
    const isOpen = !collapsed.has(n);
    if (open === isOpen) return;
    if (isOpen) collapsed.add(n); else collapsed.delete(n);
    drawRows();
  }

  function spanRow(n) {
    const s = n.span;
    const color = model.colors.get(n.service);
    const left = (n.start / model.total) * 100;
    const width = (n.duration / model.total) * 100;
    // The duration label goes right of the bar, else left of it, else
    // inside it when the bar fills most of the axis.
    const labelAt = left + width < 78 ? 'right' : left > 22 ? 'left' : 'inside';
    const labelStyle = {
      right: { left: `calc(${left + width}% + 6px)` },
      left: { right: `calc(${100 - left}% + 6px)` },
      inside: { right: `calc(${100 - left - width}% + 6px)` },
    }[labelAt];
    const hasKids = n.children.length > 0;
    const isOpen = !collapsed.has(n);

    const track = h('div', { class: 'wf-track', role: 'gridcell' },
      h('div', {
        class: `wf-bar${n.error ? ' is-error' : ''}`,
        style: { left: `${left}%`, width: `${width}%`, '--svc': color },
        dataset: { spanId: n.id, durationMs: String(n.duration) },
        title: `${s.name} · ${n.service} · ${fmtDuration(n.duration)}`,
      }),
      (s.events || []).map((ev) => eventMarker(ev, model)),
      h('span', { class: `wf-label wf-label-${labelAt}`, style: labelStyle }, fmtDuration(n.duration)));

    const name = h('div', { class: 'wf-name', role: 'gridcell', style: { '--depth': String(n.depth) } },
      hasKids
        ? h('button', {
          type: 'button', class: 'wf-toggle', tabindex: '-1',
          'aria-label': `${isOpen ? 'Collapse' : 'Expand'} ${s.name}`,
          onclick: (ev) => { ev.stopPropagation(); toggle(n, !isOpen); },
        }, isOpen ? '▾' : '▸')
        : h('span', { class: 'wf-toggle-space', 'aria-hidden': 'true' }),
      h('span', { class: 'svc-dot', style: { background: color }, 'aria-hidden': 'true' }),
      n.error ? h('span', { class: 'err-mark', title: 'error' }, '!') : null,
      h('span', { class: 'wf-span-name', title: s.name || '' }, s.name || '(unnamed)'),
      h('span', { class: 'wf-svc' }, n.service),
      !hasKids || isOpen ? null : h('span', { class: 'tag' }, `+${countDescendants(n)}`),
      n.missingParent ? h('span', { class: 'tag tag-warn', title: `parent ${s.parent_span_id} not in this trace` }, 'orphan') : null);

    const onPath = model.critical.has(n.id);
    return h('div', {
      class: `wf-row${n === selected ? ' is-selected' : ''}${n.error ? ' has-error' : ''}${onPath ? ' on-critical' : ''}`,
      role: 'row', tabindex: '0',
      'aria-level': String(n.depth + 1),
      'aria-expanded': hasKids ? String(isOpen) : null,
      'aria-selected': n === selected ? 'true' : 'false',
      'aria-label': `${s.name}, ${n.service}, ${fmtDuration(n.duration)}${n.error ? ', error' : ''}`,
      dataset: { spanId: n.id, critical: onPath ? 'true' : null },
      onclick: () => select(n),
      onkeydown: (ev) => rowKey(ev, n),
    }, name, track);
  }

  function rowKey(ev, n) {
    const row = ev.currentTarget;
    switch (ev.key) {
      case 'Enter':
      case ' ':
        ev.preventDefault(); select(n); break;
      case 'ArrowDown':
        ev.preventDefault(); if (row.nextElementSibling) row.nextElementSibling.focus(); break;
      case 'ArrowUp':
        ev.preventDefault(); if (row.previousElementSibling) row.previousElementSibling.focus(); break;
      case 'ArrowRight':
        ev.preventDefault(); if (n.children.length) toggle(n, true); break;
      case 'ArrowLeft':
        ev.preventDefault();
        if (n.children.length && !collapsed.has(n)) toggle(n, false);
        else if (n.parent && rowEls.get(n.parent)) rowEls.get(n.parent).focus();
        break;
      case 'Escape':
        if (selected) { ev.preventDefault(); select(null); }
        break;
      default:
    }
  }

  function select(n) {
    selected = n;
    for (const [node, r] of rowEls) {
      r.classList.toggle('is-selected', node === n);
      r.setAttribute('aria-selected', node === n ? 'true' : 'false');
    }
    ctx.setUrl({ span: n ? n.id : '' });
    clear(detail);
    detail.hidden = !n;
    layout.classList.toggle('has-detail', !!n);
    if (n) detail.append(...spanDetail(n, model, ctx, () => select(null)));
  }

  drawRows();
  critical.then((steps) => {
    if (!body.isConnected) return;
    if (steps instanceof Error) {
      criticalSlot.hidden = false;
      criticalSlot.append(h('span', { class: 'muted small', title: steps.message }, 'critical path unavailable'));
      return;
    }
    if (!steps || !steps.length) return;
    for (const s of steps) model.critical.set(s.span_id, s.contribution_us);
    waterfall.classList.add('show-critical');
    const toggle = h('button', {
      type: 'button', class: 'btn btn-small toggle', id: 'critical-toggle', 'aria-pressed': 'true',
      title: 'The spans the request waited on: from the end of the root, back through the child that finished last',
      onclick: () => {
        const on = waterfall.classList.toggle('show-critical');
        toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
      },
    }, h('span', { class: 'crit-swatch', 'aria-hidden': 'true' }), `Critical path (${steps.length} span${steps.length === 1 ? '' : 's'})`);
    criticalSlot.hidden = false;
    criticalSlot.append(toggle);
    drawRows();
    if (selected) select(selected);
  });
  const wanted = ctx.state.span && model.nodes.find((n) => n.id === ctx.state.span);
  if (wanted) {
    select(wanted);
    const r = rowEls.get(wanted);
    if (r) r.scrollIntoView({ block: 'nearest' });
  }
}

function countDescendants(n) {
  let c = 0;
  const stack = [...n.children];
  while (stack.length) { const x = stack.pop(); c++; stack.push(...x.children); }
  return c;
}

function stat(label, value, cls, title) {
  return h('div', { class: `stat${cls ? ` ${cls}` : ''}`, title },
    h('dt', null, label), h('dd', null, value));
}

function eventOffsetMs(ev, model) {
  if (typeof ev.time_ns === 'string' && /^[0-9]+$/.test(ev.time_ns)) return model.toMs(BigInt(ev.time_ns));
  return null;
}

function isException(ev) {
  return ev.name === 'exception' || Object.keys(ev.attributes || {}).some((k) => k.startsWith('exception.'));
}

function eventMarker(ev, model) {
  const off = eventOffsetMs(ev, model);
  if (off === null) return null;
  return h('span', {
    class: `wf-event${isException(ev) ? ' is-exception' : ''}`,
    style: { left: `${(off / model.total) * 100}%` },
    title: `${ev.name} at ${fmtDuration(off)}`,
  });
}

// --- span detail ---------------------------------------------------------------

function spanDetail(n, model, ctx, close) {
  const s = n.span;
  const code = s.status ? s.status.code : 0;
  const statusName = STATUS_NAMES[code] || String(code);
  const kind = s.kind_name || KIND_NAMES[s.kind] || String(s.kind ?? '–');
  const out = [];
  out.push(h('div', { class: 'sd-head' },
    h('span', { class: 'svc-dot', style: { background: model.colors.get(n.service) }, 'aria-hidden': 'true' }),
    h('h2', { class: 'sd-title' }, s.name || '(unnamed)'),
    h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Close span detail', onclick: close }, '×')));
  out.push(h('dl', { class: 'kv' },
    kv('Service', n.service),
    kv('Kind', kind),
    kv('Status', h('span', null,
      h('span', { class: `badge ${code === 2 ? 'badge-error' : code === 1 ? 'badge-ok' : 'badge-muted'}` }, statusName),
      s.status && s.status.message ? h('span', { class: 'status-msg' }, ` ${s.status.message}`) : null)),
    kv('Start', `+${fmtDuration(n.start)}`, 'offset from the start of the trace'),
    kv('Duration', fmtDuration(n.duration)),
    kv('Self time', `${fmtDuration(n.self)} (${fmtPercent(n.self, n.duration)})`,
      'duration minus the union of the children\'s time'),
    model.critical.has(n.id)
      ? kv('Critical path', `${fmtDuration(model.critical.get(n.id) / 1000)} of its own time`,
        'the time of this span (less its children on the path) the request waited on')
      : null,
    kv('Span ID', h('span', { class: 'mono' }, s.span_id || '–')),
    kv('Parent', s.parent_span_id
      ? h('span', { class: 'mono' }, s.parent_span_id, n.missingParent ? ' (not received)' : '')
      : '– (root)'),
    s.scope && s.scope.name ? kv('Scope', `${s.scope.name}${s.scope.version ? ` ${s.scope.version}` : ''}`) : null));

  out.push(section('Attributes', attrTable(s.attributes, 'sd-attributes')));
  const events = s.events || [];
  out.push(section(`Events (${events.length})`, events.length
    ? h('ol', { class: 'events' }, events.map((ev) => eventItem(ev, n, model)))
    : h('p', { class: 'muted small' }, 'No events.')));
  const links = s.links || [];
  out.push(section(`Links (${links.length})`, links.length
    ? h('ul', { class: 'links' }, links.map((l) => linkItem(l, ctx)))
    : h('p', { class: 'muted small' }, 'No links.')));
  out.push(section('Resource', attrTable(s.resource, 'sd-resource')));
  return out;
}

function kv(label, value, title) {
  return h('div', { class: 'kv-row', title },
    h('dt', null, label), h('dd', null, value));
}

function section(title, content) {
  return h('section', { class: 'sd-section' }, h('h3', null, title), content);
}

function attrTable(attrs, cls) {
  const keys = Object.keys(attrs || {}).sort();
  if (!keys.length) return h('p', { class: 'muted small' }, 'None.');
  return h('table', { class: `attrs ${cls}` },
    h('thead', { class: 'sr-only' }, h('tr', null, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', null, keys.map((k) => h('tr', null,
      h('th', { scope: 'row', class: 'attr-key' }, k),
      h('td', { class: `attr-value type-${typeof attrs[k]}` }, fmtValue(attrs[k]))))));
}

function eventItem(ev, n, model) {
  const off = eventOffsetMs(ev, model);
  const attrs = ev.attributes || {};
  const exc = isException(ev);
  const stack = attrs['exception.stacktrace'];
  const rest = Object.fromEntries(Object.entries(attrs).filter(([k]) => k !== 'exception.stacktrace'));
  return h('li', { class: `event${exc ? ' is-exception' : ''}` },
    h('div', { class: 'event-head' },
      h('span', { class: 'event-name' }, ev.name || '(unnamed event)'),
      off === null ? null : h('span', { class: 'muted small mono', title: `+${fmtDuration(off)} from the trace start` },
        `+${fmtDuration(off - n.start)}`)),
    exc && (attrs['exception.type'] || attrs['exception.message'])
      ? h('div', { class: 'exc-summary' },
        attrs['exception.type'] ? h('strong', null, String(attrs['exception.type'])) : null,
        attrs['exception.message'] ? `: ${attrs['exception.message']}` : null)
      : null,
    Object.keys(rest).length ? attrTable(rest, 'event-attrs') : null,
    stack ? h('pre', { class: 'stacktrace' }, String(stack)) : null);
}

function linkItem(l, ctx) {
  const same = l.trace_id === ctx.state.trace;
  return h('li', { class: 'link' },
    h('a', {
      href: `?trace=${encodeURIComponent(l.trace_id)}&span=${encodeURIComponent(l.span_id || '')}`,
      class: 'mono',
      onclick: (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey) return;
        ev.preventDefault();
        ctx.navigate({ trace: l.trace_id, span: l.span_id || '' });
      },
    }, `${l.trace_id.slice(0, 16)}… / ${l.span_id || '–'}`),
    same ? h('span', { class: 'muted small' }, ' (this trace)') : null,
    Object.keys(l.attributes || {}).length ? attrTable(l.attributes, 'link-attrs') : null);
}
