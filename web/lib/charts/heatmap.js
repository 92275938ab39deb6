// heatmap.js - a time × rows grid of coloured cells (latency by percentile,
// or request counts by latency bin) with a colour legend, and a tooltip of
// the exact value of the cell under the pointer.
//
//   drawHeatmap(el, {
//     times: [ms…], stepMs, from, to,
//     rows: [{label}],                 bottom row first
//     yTicks: [{pos, label}],          instead of row labels: pos in rows from
//                                      the bottom edge (fractional)
//     value(t, r) -> number|null,      null or 0: no cell
//     color(v) -> css colour,
//     tip(t, r) -> [{label, value}],   tooltip rows
//     unit, height, ariaLabel })

import { clear } from '../dom.js';
import { s, svgRoot } from './svg.js';
import { linearScale, timeTicks, fmtBucket } from './scale.js';
import { responsive, xAxis, unitLabel } from './frame.js';
import { showTip, hideTip, tipContent } from './tooltip.js';

const M = { top: 18, right: 12, bottom: 22, left: 64 };

export function drawHeatmap(el, opts) {
  return responsive(el, (width) => draw(el, width, opts));
}

function draw(el, width, o) {
  const height = o.height || 200;
  const n = o.times.length;
  const nr = o.rows.length;
  const step = o.stepMs;
  const from = o.from ?? o.times[0];
  const to = o.to ?? (o.times[n - 1] + step);
  const x = linearScale([from, to], [M.left, width - M.right]);
  const plotH = height - M.top - M.bottom;
  const rh = plotH / Math.max(1, nr);
  const rowY = (r) => height - M.bottom - (r + 1) * rh;

  const svg = svgRoot(width, height, { role: 'img', 'aria-label': o.ariaLabel || '' });
  svg.append(s('rect', { class: 'hm-bg', x: M.left, y: M.top, width: Math.max(0, width - M.left - M.right), height: plotH }));
  svg.append(unitLabel(o.unit || '', 4));

  const cells = s('g', { class: 'hm-cells' });
  let drawn = 0;
  const cw = x(from + step) - x(from);
  const gap = cw > 5 && rh > 5 ? 1 : 0;
  for (let t = 0; t < n; t++) {
    const x0 = x(o.times[t]);
    for (let r = 0; r < nr; r++) {
      const v = o.value(t, r);
      if (v == null || !Number.isFinite(v) || v === 0) continue;
      cells.append(s('rect', {
        class: 'hm-cell', x: (x0 + gap / 2).toFixed(2), y: (rowY(r) + gap / 2).toFixed(2),
        width: Math.max(0.5, cw - gap).toFixed(2), height: Math.max(0.5, rh - gap).toFixed(2),
        fill: o.color(v), dataset: { t: String(t), r: String(r) },
      }));
      drawn++;
    }
  }
  svg.dataset.cells = String(drawn);
  svg.append(cells);

  // Row labels, or ticks placed between rows.
  const labels = s('g', { class: 'axis axis-y' });
  if (o.yTicks) {
    let prev = Infinity;
    for (const tk of o.yTicks) {
      const py = height - M.bottom - tk.pos * rh;
      if (prev - py < 12) continue;
      prev = py;
      labels.append(s('line', { class: 'tick', x1: M.left - 4, x2: M.left, y1: py, y2: py }),
        s('text', { x: M.left - 6, y: py, dy: '0.32em', 'text-anchor': 'end' }, tk.label));
    }
  } else {
    o.rows.forEach((row, r) => {
      labels.append(s('text', { x: M.left - 6, y: rowY(r) + rh / 2, dy: '0.32em', 'text-anchor': 'end' }, row.label));
    });
  }
  svg.append(labels);

  const ticks = timeTicks(from, to, Math.max(2, Math.floor((width - M.left - M.right) / 90)))
    .map((t) => ({ pos: x(t.t), label: t.label }));
  svg.append(xAxis(ticks, height - M.bottom, M.left, width - M.right));

  const mark = s('rect', { class: 'hm-mark', width: Math.max(1, cw), height: rh, visibility: 'hidden' });
  svg.append(mark);
  const overlay = s('rect', {
    class: 'hm-overlay', x: M.left, y: M.top, width: Math.max(0, width - M.left - M.right), height: plotH, fill: 'transparent',
  });
  overlay.addEventListener('mousemove', (ev) => {
    const rect = svg.getBoundingClientRect();
    const px = ev.clientX - rect.left;
    const py = ev.clientY - rect.top;
    const t = Math.floor((x.invert(px) - o.times[0]) / step);
    const r = Math.floor((height - M.bottom - py) / rh);
    if (t < 0 || t >= n || r < 0 || r >= nr) { mark.setAttribute('visibility', 'hidden'); hideTip(); return; }
    mark.setAttribute('x', x(o.times[t]));
    mark.setAttribute('y', rowY(r));
    mark.setAttribute('visibility', 'visible');
    showTip(ev, tipContent(fmtBucket(o.times[t], step), o.tip(t, r)));
  });
  overlay.addEventListener('mouseleave', () => { mark.setAttribute('visibility', 'hidden'); hideTip(); });
  svg.append(overlay);
  clear(el).append(svg);
}
