// panel.js - a titled card holding one chart, with the states every chart
// goes through: loading, empty, error (the API's own message), ready.  The
// state is also in data-state, for tests and styles.

import { h, clear, errorBox } from './dom.js';
import { hideTip } from './charts/tooltip.js';

export function panel({ id, chartId, title, tools = null, wide = false }) {
  const sub = h('span', { class: 'panel-sub muted' });
  const body = h('div', { class: 'panel-body' });
  const el = h('section', {
    class: `panel${wide ? ' panel-wide' : ''}`, id: `panel-${id}`, 'aria-labelledby': `panel-${id}-title`, dataset: { state: 'loading' },
  },
  h('header', { class: 'panel-head' },
    h('h2', { class: 'panel-title', id: `panel-${id}-title` }, title,
      chartId ? h('span', { class: 'chart-id', title: `chart ${chartId} of the Performance tab` }, chartId) : null),
    sub,
    tools ? h('div', { class: 'panel-tools' }, tools) : null),
  body);
  let stop = null;
  // A redraw (auto refresh) takes away the chart a tooltip was about.
  const stopDrawing = () => { if (stop) { stop(); stop = null; hideTip(); } };
  const api = {
    el,
    body,
    get state() { return el.dataset.state; },
    setSub(...content) { clear(sub).append(...content.flat().filter((c) => c != null)); },
    // The first load shows a placeholder; a refresh keeps the chart in place.
    loading() {
      el.setAttribute('aria-busy', 'true');
      if (el.dataset.state === 'ready' || el.dataset.state === 'empty') return;
      stopDrawing();
      el.dataset.state = 'loading';
      clear(body).append(h('div', { class: 'panel-msg loading muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading…'));
    },
    empty(title, hint) {
      stopDrawing();
      el.dataset.state = 'empty';
      el.removeAttribute('aria-busy');
      clear(body).append(h('div', { class: 'panel-msg panel-empty' },
        h('p', { class: 'empty-title' }, title), hint ? h('p', { class: 'muted' }, hint) : null));
    },
    error(what, err) {
      stopDrawing();
      el.dataset.state = 'error';
      el.removeAttribute('aria-busy');
      clear(body).append(errorBox(what, err.message));
    },
    // fill(body) draws the content and may return a function that stops it
    // (a resize observer).
    ready(fill) {
      stopDrawing();
      el.dataset.state = 'ready';
      el.removeAttribute('aria-busy');
      clear(body);
      stop = fill(body) || null;
    },
    destroy: stopDrawing,
  };
  return api;
}
