// tooltip.js - the one floating tooltip the charts share.  Its content is
// built with h() (text only); it follows the pointer and stays inside the
// window.

import { h, clear } from '../dom.js';

let tip = null;

function element() {
  if (!tip || !tip.isConnected) {
    tip = h('div', { class: 'chart-tip', role: 'tooltip', hidden: true });
    document.body.append(tip);
  }
  return tip;
}

// `rows`: [{label, value, color?, strong?}] under an optional `title`.
export function tipContent(title, rows = [], note = null) {
  return [
    title ? h('div', { class: 'tip-title' }, title) : null,
    rows.length ? h('table', { class: 'tip-rows' }, h('tbody', null, rows.map((r) => h('tr', { class: r.strong ? 'is-strong' : null },
      h('td', null, r.color ? h('span', { class: 'tip-swatch', style: { background: r.color } }) : null, r.label),
      h('td', { class: 'mono' }, r.value))))) : null,
    note ? h('div', { class: 'tip-note muted' }, note) : null,
  ];
}

export function showTip(ev, content) {
  const el = element();
  clear(el).append(...[content].flat(Infinity).filter(Boolean));
  el.hidden = false;
  const pad = 14;
  const { innerWidth: W, innerHeight: H } = window;
  const r = el.getBoundingClientRect();
  let x = ev.clientX + pad;
  let y = ev.clientY + pad;
  if (x + r.width > W - 4) x = Math.max(4, ev.clientX - pad - r.width);
  if (y + r.height > H - 4) y = Math.max(4, ev.clientY - pad - r.height);
  el.style.left = `${x}px`;
  el.style.top = `${y}px`;
}

export function hideTip() {
  if (tip) tip.hidden = true;
}
