// legend.js - what a differential flame graph's colours and marks mean,
// and its tooltip: colour by self or by inclusive change (a toggle), how
// the two sides were normalised, widths, and the frames that exist on one
// side only.  The numbers come from diff.js.

import { h } from '../dom.js';
import { tipContent } from '../charts/tooltip.js';
import { nameOf } from './tree.js';
import { us } from './viewer.js';
import { diffGradient } from './color.js';
import { SIDE_BASE_ONLY, SIDE_COMPARE_ONLY } from './diff.js';

const signed = (v) => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${us(Math.abs(v))}`;

export function diffLegend(t, by, onColor) {
  const d = t.diff;
  let onlyBase = 0;
  let onlyCompare = 0;
  for (let i = 1; i < t.n; i++) {
    if (d.side[i] === SIDE_BASE_ONLY) onlyBase++;
    else if (d.side[i] === SIDE_COMPARE_ONLY) onlyCompare++;
  }
  const btn = (id, label) => h('button', {
    type: 'button', class: 'seg-btn', 'aria-pressed': by === id ? 'true' : 'false', dataset: { id },
    onclick: () => { if (by !== id) onColor(id); },
  }, label);
  return h('div', { class: 'flame-legend', role: 'note', 'aria-label': 'Legend', dataset: { colorBy: by } },
    h('div', { class: 'legend-row' },
      h('strong', null, 'Colour:'),
      h('span', { class: 'legend-color-by' }, by === 'self' ? 'change in self time' : 'change in inclusive (total) time'),
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Colour by' }, btn('self', 'Self'), btn('total', 'Inclusive')),
      h('span', { class: 'muted small' }, 'less in compare'),
      h('span', { class: 'diff-scale', style: { background: diffGradient() }, 'aria-hidden': 'true' }),
      h('span', { class: 'muted small' }, 'more in compare')),
    h('div', { class: 'legend-row legend-norm' },
      h('strong', null, 'Values:'),
      d.normalised
        ? h('span', null, `the sets differ in size (base ${d.baseTraces} requests, compare ${d.compareTraces}), so counts are normalised by totals: base values are scaled ×${d.scale.toFixed(3)} to the compare side's total (${us(d.compareTotal)}; base ${us(d.baseTotal)}).`)
        : h('span', null, `both sides hold ${d.baseTraces} request${d.baseTraces === 1 ? '' : 's'}: values are not scaled.`),
      h('span', { class: 'muted' }, ' Widths are the mean of the two sides.')),
    h('div', { class: 'legend-row legend-sides' },
      h('strong', null, 'One side only:'),
      h('span', { class: 'legend-item' }, h('span', { class: 'hatch-swatch', 'aria-hidden': 'true' }),
        h('span', { class: 'mono' }, '+ name'), ` only in compare (new): ${onlyCompare}`),
      h('span', { class: 'legend-item' }, h('span', { class: 'hatch-swatch', 'aria-hidden': 'true' }),
        h('span', { class: 'mono' }, '− name'), ` only in base (gone): ${onlyBase}`)));
}

export function diffTip(t, i) {
  const d = t.diff;
  const side = d.side[i] === SIDE_COMPARE_ONLY ? 'only in compare (new)' : d.side[i] === SIDE_BASE_ONLY ? 'only in base (gone)' : null;
  const rows = [
    { label: 'Base total', value: us(d.base[i]) },
    { label: 'Compare total', value: us(d.cmp[i]) },
    { label: 'Change (total)', value: signed(d.cmp[i] - d.base[i]), strong: true },
    { label: 'Base self', value: us(d.baseSelf[i]) },
    { label: 'Compare self', value: us(d.cmpSelf[i]) },
    { label: 'Change (self)', value: signed(d.cmpSelf[i] - d.baseSelf[i]), strong: true },
  ];
  if (i > 0) rows.push({ label: 'Requests', value: `${d.baseCount[i]} base, ${d.cmpCount[i]} compare` });
  return tipContent(i === 0 ? 'all' : nameOf(t, i), rows,
    [side, d.normalised ? `base scaled ×${d.scale.toFixed(3)}` : null].filter(Boolean).join('; ') || null);
}
