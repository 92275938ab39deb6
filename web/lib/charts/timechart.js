// timechart.js - values per time bucket as columns, lines or areas, stacked
// or not, with a time axis, a y axis with its unit, a hover band with a
// tooltip of the exact values, and optional threshold lines (an SLO).
//
//   drawTimeChart(el, {
//     times: [ms…], stepMs,             bucket starts and width
//     from, to,                         x domain (default: the buckets)
//     series: [{key, label, color, values: [number|null…]}],
//     kind: 'bars'|'area'|'line', stacked: bool,
//     unit: 'req/s', yTick(v, step), fmtValue(v),
//     thresholds: [{value, label, color}],
//     tipExtra(i) -> [{label, value}],  more rows in the tooltip
//     height, ariaLabel })
// Returns a function that stops redrawing on resize.

import { h, clear } from '../dom.js';
import { s, svgRoot, crisp } from './svg.js';
import { linearScale, niceMax, timeTicks, fmtBucket } from './scale.js';
import { responsive, yAxis, xAxis, unitLabel } from './frame.js';
import { showTip, hideTip, tipContent } from './tooltip.js';

const M = { top: 18, right: 12, bottom: 22, left: 56 };

export function drawTimeChart(el, opts) {
  return responsive(el, (width) => draw(el, width, opts));
}

function draw(el, width, o) {
  const height = o.height || 190;
  const n = o.times.length;
  const step = o.stepMs;
  const from = o.from ?? o.times[0];
  const to = o.to ?? (o.times[n - 1] + step);
  const x = linearScale([from, to], [M.left, width - M.right]);
  const kind = o.kind || 'line';

  // Stack (or not): lo/hi per series per bucket.
  const stacks = o.series.map(() => new Array(n));
  let max = 0;
  for (let i = 0; i < n; i++) {
    let base = 0;
    o.series.forEach((ser, k) => {
      const v = ser.values[i];
      if (v == null || !Number.isFinite(v)) { stacks[k][i] = null; return; }
      const lo = o.stacked ? base : 0;
      stacks[k][i] = [lo, lo + v];
      if (o.stacked) base += v;
      max = Math.max(max, lo + v);
    });
  }
  for (const t of o.thresholds || []) max = Math.max(max, t.value);
  const yMax = niceMax(max * 1.05 || 0);
  const y = linearScale([0, yMax], [height - M.bottom, M.top]);
  const yt = y.ticks(4);

  const svg = svgRoot(width, height, {
    role: 'img', 'aria-label': o.ariaLabel || '', dataset: { buckets: String(n) },
  });
  svg.append(yAxis(y, yt, o.yTick, M.left, width - M.right));
  svg.append(unitLabel(o.unit || '', 4));

  const plot = s('g', { class: `tc-plot tc-${kind}` });
  const bw = (x(from + step) - x(from));
  if (kind === 'bars') {
    const gap = bw > 4 ? 1 : 0;
    o.series.forEach((ser, k) => {
      const g = s('g', { class: 'tc-series', dataset: { key: ser.key }, fill: ser.color });
      for (let i = 0; i < n; i++) {
        const st = stacks[k][i];
        if (!st) continue;
        const x0 = x(o.times[i]) + gap / 2;
        g.append(s('rect', {
          class: 'tc-bar', x: x0.toFixed(2), width: Math.max(0.5, bw - gap).toFixed(2),
          y: y(st[1]).toFixed(2), height: Math.max(0, y(st[0]) - y(st[1])).toFixed(2),
          dataset: { i: String(i), v: String(ser.values[i]) },
        }));
      }
      plot.append(g);
    });
  } else {
    const mid = (i) => x(o.times[i] + step / 2);
    // Draw the top series first so lower ones paint over their own edge.
    o.series.forEach((ser, k) => {
      const segs = [];
      let cur = null;
      for (let i = 0; i < n; i++) {
        const st = stacks[k][i];
        if (!st) { cur = null; continue; }
        if (!cur) { cur = []; segs.push(cur); }
        cur.push([mid(i), st]);
      }
      const g = s('g', { class: 'tc-series', dataset: { key: ser.key } });
      for (const seg of segs) {
        const top = seg.map(([px, st]) => `${px.toFixed(2)},${y(st[1]).toFixed(2)}`);
        if (kind === 'area') {
          const bottom = seg.slice().reverse().map(([px, st]) => `${px.toFixed(2)},${y(st[0]).toFixed(2)}`);
          g.append(s('path', { class: 'tc-area', d: `M${top.join('L')}L${bottom.join('L')}Z`, fill: ser.color }));
        }
        if (seg.length === 1) {
          g.append(s('circle', { class: 'tc-dot', cx: seg[0][0], cy: y(seg[0][1][1]), r: 2.5, fill: ser.color }));
        }
        g.append(s('path', { class: 'tc-line', d: `M${top.join('L')}`, stroke: ser.color }));
      }
      plot.append(g);
    });
  }
  svg.append(plot);

  for (const t of o.thresholds || []) {
    svg.append(s('g', { class: 'tc-threshold' },
      s('line', { x1: M.left, x2: width - M.right, y1: crisp(y(t.value)), y2: crisp(y(t.value)), stroke: t.color }),
      s('text', { x: width - M.right - 4, y: y(t.value) - 4, 'text-anchor': 'end', fill: t.color }, t.label)));
  }

  const ticks = timeTicks(from, to, Math.max(2, Math.floor((width - M.left - M.right) / 90)))
    .map((t) => ({ pos: x(t.t), label: t.label }));
  svg.append(xAxis(ticks, height - M.bottom, M.left, width - M.right));

  // Hover: a band over the bucket under the pointer and its exact values.
  const band = s('rect', { class: 'tc-band', y: M.top, height: height - M.top - M.bottom, width: Math.max(1, bw), visibility: 'hidden' });
  svg.append(band);
  const overlay = s('rect', {
    class: 'tc-overlay', x: M.left, y: M.top, width: Math.max(0, width - M.left - M.right), height: height - M.top - M.bottom,
    fill: 'transparent',
  });
  const indexAt = (px) => {
    const t = x.invert(px);
    const i = Math.floor((t - o.times[0]) / step);
    return i >= 0 && i < n ? i : -1;
  };
  overlay.addEventListener('mousemove', (ev) => {
    const rect = svg.getBoundingClientRect();
    const i = indexAt(ev.clientX - rect.left);
    if (i < 0) { band.setAttribute('visibility', 'hidden'); hideTip(); return; }
    band.setAttribute('x', x(o.times[i]));
    band.setAttribute('visibility', 'visible');
    const rows = o.series.map((ser) => ({ label: ser.label, value: o.fmtValue(ser.values[i]), color: ser.color })).reverse();
    if (o.stacked && o.series.length > 1) {
      const total = o.series.reduce((a, ser) => a + (ser.values[i] || 0), 0);
      const known = o.series.some((ser) => ser.values[i] != null);
      rows.push({ label: 'Total', value: known ? o.fmtValue(total) : o.fmtValue(null), strong: true });
    }
    if (o.tipExtra) rows.push(...o.tipExtra(i));
    showTip(ev, tipContent(fmtBucket(o.times[i], step), rows));
  });
  overlay.addEventListener('mouseleave', () => { band.setAttribute('visibility', 'hidden'); hideTip(); });
  svg.append(overlay);

  clear(el).append(svg);
}

// A legend: a swatch and label per series.
export function legend(series) {
  return h('ul', { class: 'chart-legend' }, series.map((ser) => h('li', null,
    h('span', { class: 'svc-dot', style: { background: ser.color }, 'aria-hidden': 'true' }), ser.label)));
}
