// recommendations.js - the Recommendations view (user story US-5): what to
// change and how much it would help, from GET /api/v1/recommendations
// (src/server/routes_analysis.c): a card per recommendation grouped by
// priority, its tracked status and the actions that move it (POST
// /api/v1/recommendations/{id}/status), its audit trail (GET
// /api/v1/recommendations/{id}) and the pattern's page (the finding's
// `doc`, Markdown) in a side panel.  Each card shows the resource state of
// its service when its first example ran (CPU, memory, pool).
//
// The API takes the time range and a service, not the other filters: the
// analysis covers every environment.  The status filter is kept for the
// session (module state).

import { h, clear, errorBox } from '../lib/dom.js';
import { apiGet, isAbort } from '../lib/api.js';
import { apiPost, getText } from '../lib/request.js';
import { markdownToDom, inlineMarkdown } from '../lib/markdown.js';
import { fmtDuration, fmtTime, fmtIso } from '../lib/format.js';
import { fmtCount, fmtNum } from '../lib/charts/units.js';
import { traceLink } from '../lib/tracelink.js';
import { resourceLine } from '../lib/resources.js';

const PRIORITIES = [
  { id: 'HIGH', label: 'High priority' },
  { id: 'MEDIUM', label: 'Medium priority' },
  { id: 'LOW', label: 'Low priority' },
];
const STATUSES = [
  { id: '', label: 'All' },
  { id: 'open', label: 'Open' },
  { id: 'applied', label: 'Applied' },
  { id: 'dismissed', label: 'Dismissed' },
  { id: 'verified', label: 'Verified' },
];
const STATUS_HINTS = {
  open: 'not acted on yet',
  applied: 'the change is made; hotpath checks new data for the pattern',
  dismissed: 'decided against, with a reason',
  verified: 'the pattern is gone from data that came after the change',
};

const prefs = { status: '' };

export function mountRecommendations(el, ctx) {
  const { filters } = ctx;
  const summaryEl = h('p', { class: 'rec-analysis muted', id: 'rec-analysis', 'aria-live': 'polite' });
  const body = h('div', { class: 'rec-body' });
  const doc = docPanel(ctx);

  const statusButtons = STATUSES.map((s) => h('button', {
    type: 'button', class: 'seg-btn', dataset: { status: s.id }, 'aria-pressed': prefs.status === s.id ? 'true' : 'false',
    title: s.id ? STATUS_HINTS[s.id] : 'every status',
    onclick: () => {
      if (prefs.status === s.id) return;
      prefs.status = s.id;
      for (const b of statusButtons) b.setAttribute('aria-pressed', b.dataset.status === s.id ? 'true' : 'false');
      load();
    },
  }, s.label));

  el.append(h('div', { class: 'view-head' },
    h('h1', { class: 'view-title' }, 'Recommendations'),
    h('div', { class: 'view-tools' },
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Status' }, statusButtons),
      h('button', {
        type: 'button', class: 'btn', title: 'Run the analysis again now (it is otherwise reused for a minute)',
        onclick: () => load(true),
      }, 'Analyse again'))),
  summaryEl,
  h('div', { class: 'rec-layout' }, body, doc.el));

  let seq = 0;
  async function load(refresh = false) {
    const mine = ++seq;
    const params = new URLSearchParams({ range: filters.range });
    if (filters.service) params.set('service', filters.service);
    if (prefs.status) params.set('status', prefs.status);
    if (refresh) params.set('refresh', '1');
    if (!body.querySelector('.rec-card')) {
      clear(body).append(h('div', { class: 'panel-msg loading muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Analysing…'));
    }
    body.setAttribute('aria-busy', 'true');
    try {
      const data = await apiGet('/api/v1/recommendations', params, { signal: ctx.signal, timeoutMs: 60000 });
      if (mine !== seq) return;
      summaryEl.textContent = analysisText(data.analysis, filters);
      drawGroups(body, data.recommendations || [], ctx, doc);
    } catch (err) {
      if (isAbort(err) || mine !== seq) return;
      clear(body).append(errorBox('Could not load the recommendations.', err.message));
    } finally {
      if (mine === seq) body.removeAttribute('aria-busy');
    }
  }
  load();
  return () => doc.close();
}

function analysisText(a, filters) {
  if (!a) return '';
  const rate = a.sample_rate != null ? `sample rate ${fmtNum(a.sample_rate * 100)} %` : null;
  return [
    `Analysed ${fmtCount(a.traces)} traces (${fmtCount(a.spans)} spans, ${fmtCount(a.points)} metric points)`
      + ` of the last ${fmtRange(a.range_s) || filters.range}`,
    a.requests_in_window != null ? `${fmtCount(a.requests_in_window)} requests in the window` : null,
    rate,
    `${fmtCount(a.findings)} finding${a.findings === 1 ? '' : 's'}`,
    `took ${fmtDuration(a.elapsed_ms)}`,
    a.age_s != null ? `${fmtDuration(a.age_s * 1000)} ago${a.refreshing ? ', refreshing' : ''}` : null,
    filters.service ? `service ${filters.service}` : 'every environment',
  ].filter(Boolean).join(' · ');
}

function fmtRange(s) {
  if (!s) return '';
  if (s % 86400 === 0 && s > 2 * 86400) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const priorityOf = (rec) => String((rec.finding && rec.finding.priority) || 'low').toUpperCase();

function drawGroups(body, recs, ctx, doc) {
  clear(body);
  if (!recs.length) {
    body.append(h('div', { class: 'empty' },
      h('p', { class: 'empty-title' }, prefs.status ? `No ${prefs.status} recommendations.` : 'No recommendations.'),
      h('p', { class: 'muted' }, prefs.status
        ? 'Choose All to see the others.'
        : `Nothing in the last ${ctx.filters.range} matches a known problem pattern (N+1 queries, repeated calls, pool exhaustion, regressions, sequential calls, memory growth, timeouts).`)));
    return;
  }
  for (const p of PRIORITIES) {
    const mine = recs.filter((r) => priorityOf(r) === p.id);
    if (!mine.length) continue;
    body.append(h('section', { class: `rec-group prio-${p.id.toLowerCase()}`, dataset: { priority: p.id }, 'aria-labelledby': `rec-group-${p.id}` },
      h('h2', { class: 'rec-group-title', id: `rec-group-${p.id}` },
        h('span', { class: `badge prio-badge prio-${p.id.toLowerCase()}` }, p.id), p.label,
        h('span', { class: 'muted small' }, ` ${mine.length}`)),
      mine.map((r) => card(r, ctx, doc))));
  }
}

function statusBadge(status) {
  return h('span', { class: `badge rec-status status-${status}`, title: STATUS_HINTS[status] || '' }, status);
}

function card(rec, ctx, doc) {
  const f = rec.finding || {};
  const words = f.recommendation || {};
  const subject = f.subject || {};
  const errorEl = h('p', { class: 'rec-error', role: 'alert', hidden: true });
  let el = null;

  // POST the status; the answer replaces the card.
  async function setStatus(status, reason, button) {
    errorEl.hidden = true;
    if (button) button.disabled = true;
    try {
      const body = { status };
      if (reason != null) body.reason = reason;
      const next = await apiPost(`/api/v1/recommendations/${encodeURIComponent(rec.id)}/status`, body);
      const fresh = card({ ...rec, ...next, finding: next.finding || rec.finding }, ctx, doc);
      el.replaceWith(fresh);
      const focus = fresh.querySelector('.rec-actions button');
      if (focus) focus.focus();
    } catch (err) {
      errorEl.textContent = err.serverMessage || err.message;
      errorEl.hidden = false;
      if (button) button.disabled = false;
    }
  }

  const reasonInput = h('input', {
    type: 'text', class: 'rec-reason-input', maxlength: '1000', placeholder: 'why this does not apply',
    'aria-label': 'Reason for dismissing',
    onkeydown: (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); confirm.click(); } },
  });
  const confirm = h('button', {
    type: 'button', class: 'btn btn-danger rec-dismiss-confirm',
    onclick: (ev) => setStatus('dismissed', reasonInput.value.trim(), ev.currentTarget),
  }, 'Dismiss');
  const dismissForm = h('div', { class: 'rec-dismiss', hidden: true },
    h('label', { class: 'muted small' }, 'Reason', reasonInput), confirm,
    h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { dismissForm.hidden = true; errorEl.hidden = true; } }, 'Cancel'));

  const action = (label, cls, onclick, title) => h('button', { type: 'button', class: `btn btn-small ${cls}`, onclick, title }, label);
  const actions = [];
  if (rec.status === 'open') actions.push(action('Apply', 'rec-apply', (ev) => setStatus('applied', null, ev.currentTarget), 'I made this change: hotpath will check whether the pattern goes away'));
  if (rec.status === 'open' || rec.status === 'applied') {
    actions.push(action('Dismiss', 'rec-dismiss-btn', () => { dismissForm.hidden = false; reasonInput.focus(); }, 'This does not apply: say why'));
  }
  if (rec.status !== 'open') actions.push(action('Reopen', 'rec-reopen', (ev) => setStatus('open', null, ev.currentTarget), 'Back to open'));
  if (f.doc) actions.push(action('Learn more', 'rec-learn', () => doc.open(f.doc, f.kind_name || words.title), 'The pattern, how to confirm it and how to fix it'));

  const subjectParts = [
    ['Service', subject.service], ['Endpoint', subject.endpoint], ['Tool', subject.tool],
    ['Environment', subject.environment], ['Detail', subject.detail],
  ].filter(([, v]) => v);

  const audit = h('div', { class: 'rec-audit' });
  let auditLoaded = false;
  const history = h('details', {
    class: 'rec-history',
    ontoggle: () => { if (history.open && !auditLoaded) { auditLoaded = true; loadAudit(rec.id, audit, ctx); } },
  }, h('summary', null, 'History'), audit);

  el = h('article', {
    class: `rec-card status-${rec.status}${rec.active === false ? ' is-inactive' : ''}`,
    dataset: { id: rec.id, status: rec.status, priority: priorityOf(rec), kind: f.kind || '' },
    'aria-labelledby': `rec-title-${rec.id}`,
  },
  h('header', { class: 'rec-head' },
    h('h3', { class: 'rec-title', id: `rec-title-${rec.id}` }, words.title || f.kind_name || f.kind),
    statusBadge(rec.status),
    rec.persists ? h('span', { class: 'badge rec-persists', title: 'applied, yet still found in data that all came after the change' }, 'pattern persists') : null,
    rec.active === false ? h('span', { class: 'badge badge-muted', title: 'not found by the latest analysis' }, 'not seen lately') : null,
    f.kind_name ? h('span', { class: 'tag' }, f.kind_name) : null),
  subjectParts.length ? h('p', { class: 'rec-subject' }, subjectParts.map(([k, v], i) => [
    i ? h('span', { class: 'muted' }, ' · ') : null, h('span', { class: 'muted' }, `${k} `), h('span', { class: k === 'Detail' ? 'mono' : 'endpoint' }, v)])) : null,
  words.evidence ? h('p', { class: 'rec-evidence' }, inlineMarkdown(words.evidence)) : null,
  words.change ? h('p', { class: 'rec-change' }, h('strong', null, 'Change: '), inlineMarkdown(words.change)) : null,
  words.gain ? h('p', { class: 'rec-gain' }, inlineMarkdown(words.gain)) : null,
  rec.reason ? h('p', { class: 'rec-reason muted' }, `${rec.status === 'dismissed' ? 'Dismissed' : 'Last change'}: `, h('q', null, rec.reason),
    rec.status_changed_ms ? ` (${fmtTime(rec.status_changed_ms)})` : '') : null,
  resourceLine(rec.resources, rec.resources_reason,
    { service: (f.subject || {}).service, when: (f.examples || []).length ? 'its first example' : 'last found' }),
  (f.examples || []).length ? h('p', { class: 'rec-examples' }, h('span', { class: 'muted' }, 'Example traces: '),
    f.examples.map((id) => traceLink(id, ctx))) : null,
  h('div', { class: 'rec-actions' }, actions, h('span', { class: 'rec-seen muted small', title: `first seen ${fmtIso(rec.first_seen_ms)}` },
    rec.last_seen_ms ? `last seen ${fmtTime(rec.last_seen_ms)}` : '')),
  dismissForm, errorEl, history);
  return el;
}

async function loadAudit(id, box, ctx) {
  clear(box).append(h('p', { class: 'muted small' }, 'Loading…'));
  try {
    const one = await apiGet(`/api/v1/recommendations/${encodeURIComponent(id)}`, null, { signal: ctx.signal });
    const trail = one.audit || [];
    clear(box);
    if (!trail.length) {
      box.append(h('p', { class: 'muted small' }, `No status change yet; first seen ${fmtTime(one.first_seen_ms)}.`));
      return;
    }
    box.append(h('ol', { class: 'audit-list' }, trail.map((a) => h('li', { class: 'audit-item' },
      h('span', { class: 'mono muted', title: fmtIso(a.time_ms) }, fmtTime(a.time_ms)), ' ',
      statusBadge(a.from || '?'), ' → ', statusBadge(a.to || '?'), ' ',
      a.actor ? h('span', null, 'by ', h('strong', null, a.actor)) : null,
      a.reason ? [': ', h('q', null, a.reason)] : null))));
  } catch (err) {
    if (isAbort(err)) return;
    clear(box).append(errorBox('Could not load the history.', err.message));
  }
}

// The side panel with a pattern's page.
function docPanel(ctx) {
  const title = h('h2', { class: 'doc-title' }, 'Learn more');
  const raw = h('a', { class: 'small', target: '_blank', rel: 'noopener' }, 'Markdown');
  const content = h('div', { class: 'doc-body md' });
  let ctrl = null;
  const onKey = (ev) => { if (ev.key === 'Escape') api.close(); };
  const el = h('aside', { class: 'doc-panel', id: 'rec-doc', 'aria-label': 'Pattern page', hidden: true },
    h('div', { class: 'doc-head' }, title, raw,
      h('button', { type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Close', title: 'Close (Escape)', onclick: () => api.close() }, '×')),
    content);
  const api = {
    el,
    async open(path, name) {
      if (ctrl) ctrl.abort();
      ctrl = new AbortController();
      const mine = ctrl;
      el.hidden = false;
      el.dataset.doc = path;
      el.dataset.state = 'loading';
      title.textContent = name ? `About: ${name}` : 'About this pattern';
      raw.setAttribute('href', path);
      clear(content).append(h('p', { class: 'muted' }, 'Loading…'));
      document.addEventListener('keydown', onKey);
      try {
        const page = await getText(path, { signal: mine.signal });
        if (mine !== ctrl) return;
        clear(content).append(markdownToDom(page.text, { base: new URL(path, window.location.origin).href }));
        localLinks(content, api);
        el.dataset.state = 'ready';
      } catch (err) {
        if (isAbort(err) || mine !== ctrl || ctx.signal.aborted) return;
        el.dataset.state = 'error';
        clear(content).append(errorBox('Could not load the page.', err.message));
      }
      const heading = content.querySelector('h1, h2');
      el.focus({ preventScroll: true });
      if (heading) heading.scrollIntoView({ block: 'nearest' });
    },
    close() {
      if (ctrl) { ctrl.abort(); ctrl = null; }
      el.hidden = true;
      document.removeEventListener('keydown', onKey);
    },
  };
  el.tabIndex = -1;
  return api;
}

// Links between pattern pages open in the panel.  The server serves only
// docs/recommendations/, so a link to another page of docs/ (DETECTORS.md)
// becomes its text, naming the file in the source tree.
function localLinks(content, panelApi) {
  for (const a of content.querySelectorAll('a[href]')) {
    const u = new URL(a.href);
    if (u.origin !== window.location.origin || !u.pathname.endsWith('.md')) continue;
    if (u.pathname.startsWith('/docs/recommendations/')) {
      a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        panelApi.open(u.pathname, a.textContent);
      });
    } else {
      a.replaceWith(h('span', { class: 'md-source', title: `${u.pathname.slice(1)} in hotpath's source tree` }, a.textContent));
    }
  }
}
