// sandwich.js - the sandwich view of a flame graph (as in speedscope): a
// table of functions (frame names) by self or total time to pick one from,
// and for the picked function its callers drawn above it (inverted, every
// call path merged) and its callees below it (merged).
//
// Owns the table and the two half graphs; the trees come from tree.js
// (functionTable, callersTree, calleesTree), the drawing from viewer.js.

import { h, clear } from '../dom.js';
import { tipContent } from '../charts/tooltip.js';
import { fmtPercent } from '../format.js';
import { functionTable, callersTree, calleesTree, nameOf } from './tree.js';
import { createViewer, us } from './viewer.js';
import { nameColor } from './color.js';

const TABLE_ROWS = 200;

// opts: name (picked at start), onPick(name) (e.g. to keep it in the URL).
export function mountSandwich(el, tree, opts = {}) {
  let by = 'self';
  let filter = '';
  let picked = null;
  const total = tree.value[0];
  const all = { self: functionTable(tree, 'self'), total: null };
  const rowsBy = (key) => { if (!all[key]) all[key] = functionTable(tree, key); return all[key]; };

  const tbody = h('tbody', null);
  const count = h('span', { class: 'muted small' });
  const head = (key, label) => h('th', {
    scope: 'col', class: 'num sortable', 'aria-sort': by === key ? 'descending' : 'none',
  }, h('button', { type: 'button', class: 'th-btn', onclick: () => { by = key; drawTable(); } }, label));
  const table = h('table', { class: 'grid sandwich-table', 'aria-label': 'Functions' });
  const filterInput = h('input', {
    type: 'search', class: 'sandwich-filter', placeholder: 'Filter functions', 'aria-label': 'Filter functions',
    oninput: (ev) => { filter = ev.target.value.toLowerCase(); drawTable(); },
  });
  const title = h('h2', { class: 'sandwich-title' });
  const callersHost = h('div', { class: 'sandwich-half sandwich-callers' });
  const calleesHost = h('div', { class: 'sandwich-half sandwich-callees' });
  const empty = h('p', { class: 'muted sandwich-empty' }, 'Pick a function in the table to see who calls it and what it calls.');
  el.append(h('div', { class: 'sandwich' },
    h('div', { class: 'sandwich-list' }, h('div', { class: 'sandwich-list-head' }, filterInput, count),
      h('div', { class: 'table-wrap sandwich-table-wrap' }, table)),
    h('div', { class: 'sandwich-graphs' }, title, empty,
      h('div', { class: 'sandwich-label muted small' }, 'Callers ↑'), callersHost,
      h('div', { class: 'sandwich-label muted small' }, 'Callees ↓'), calleesHost)));

  const tip = (t, i) => {
    const fnTotal = t.value[0];
    return tipContent(nameOf(t, i), [
      { label: 'Total', value: us(t.value[i]), strong: true },
      { label: 'Self', value: us(t.self[i]) },
      { label: `% of ${picked}`, value: fmtPercent(t.value[i], fnTotal) },
      { label: '% of total', value: fmtPercent(t.value[i], total) },
    ].concat(t.count[i] ? [{ label: 'Count', value: String(t.count[i]) }] : []));
  };
  const callers = createViewer(callersHost, { inverted: true, showRoot: false, label: 'Callers of the picked function', tooltip: tip });
  const callees = createViewer(calleesHost, { showRoot: false, label: 'Callees of the picked function', tooltip: tip });

  function drawTable() {
    const rows = rowsBy(by).filter((r) => !filter || r.name.toLowerCase().includes(filter));
    clear(table).append(h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Function'), head('self', 'Self'), h('th', { scope: 'col', class: 'num' }, '%'),
      head('total', 'Total'), h('th', { scope: 'col', class: 'num' }, '%'))), tbody);
    clear(tbody);
    for (const r of rows.slice(0, TABLE_ROWS)) {
      const isPicked = r.name === picked;
      tbody.append(h('tr', {
        tabindex: '0', class: `fn-row${isPicked ? ' is-selected' : ''}`, 'aria-selected': isPicked ? 'true' : 'false',
        dataset: { name: r.name },
        onclick: () => pick(r.name),
        onkeydown: (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(r.name); }
          else if (ev.key === 'ArrowDown' && ev.currentTarget.nextElementSibling) { ev.preventDefault(); ev.currentTarget.nextElementSibling.focus(); }
          else if (ev.key === 'ArrowUp' && ev.currentTarget.previousElementSibling) { ev.preventDefault(); ev.currentTarget.previousElementSibling.focus(); }
        },
      },
      h('td', { class: 'fn-name', title: r.name },
        h('span', { class: 'svc-dot', style: { background: nameColor(r.name) }, 'aria-hidden': 'true' }), r.name),
      h('td', { class: 'num mono' }, us(r.self)), h('td', { class: 'num muted' }, fmtPercent(r.self, total)),
      h('td', { class: 'num mono' }, us(r.total)), h('td', { class: 'num muted' }, fmtPercent(r.total, total))));
    }
    count.textContent = rows.length > TABLE_ROWS ? `${TABLE_ROWS} of ${rows.length}` : `${rows.length} functions`;
  }

  function pick(name) {
    picked = name;
    for (const tr of tbody.children) {
      const on = tr.dataset.name === name;
      tr.classList.toggle('is-selected', on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    const row = rowsBy('self').find((r) => r.name === name);
    empty.hidden = !!row;
    title.textContent = row ? name : '';
    el.dataset.picked = row ? name : '';
    if (row) {
      title.append(h('span', { class: 'muted small sandwich-sub' },
        ` total ${us(row.total)} (${fmtPercent(row.total, total)}), self ${us(row.self)} (${fmtPercent(row.self, total)})`));
      callers.setTree(callersTree(tree, name));
      callees.setTree(calleesTree(tree, name));
    }
    callersHost.hidden = !row;
    calleesHost.hidden = !row;
    if (opts.onPick) opts.onPick(row ? name : '');
  }

  drawTable();
  pick(opts.name && rowsBy('self').some((r) => r.name === opts.name) ? opts.name : (all.self[0] ? all.self[0].name : ''));
  return {
    pick,
    callers,
    callees,
    destroy() { callers.destroy(); callees.destroy(); },
  };
}
