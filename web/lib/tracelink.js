// tracelink.js - a link that opens a trace in the trace view: a real link
// (?trace=ID on the current URL, so it opens in a new tab too) that a plain
// click follows through the router instead of reloading the page.

import { h } from './dom.js';

export function traceLink(traceId, ctx, text = null) {
  const url = new URL(window.location.href);
  url.searchParams.set('trace', traceId);
  url.searchParams.delete('span');
  return h('a', {
    href: `${url.pathname}${url.search}`, class: 'trace-link mono', dataset: { traceId }, title: `open trace ${traceId}`,
    onclick: (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      ev.stopPropagation();
      ctx.navigate({ trace: traceId, span: '' });
    },
  }, text || traceId.slice(0, 8));
}
