// histogram.js - request counts in latency bins on a log x axis, with
// vertical markers (p50, p95, p99, an SLO threshold) and a tooltip of each
// bin's exact edges and count.
//
//   drawHistogram(el, {
//     bins: [{lo_ms, hi_ms, count}],   ascending, contiguous
//     markers: [{label, value, color, cls}],
//     height, ariaLabel })

import { clear } from '../dom.js';
import { s, svgRoot, crisp } from './svg.js';
import { linearScale, logScale, niceMax } from './scale.js';
import { responsive, yAxis, xAxis, unitLabel } from './frame.js';
import { showTip, hideTip, tipContent } from './tooltip.js';
import { fmtMsLog, fmtCount, fmtDuration, fmtRatioPct } from './units.js';

const M = { top: 30, right: 16, bottom: 34, left: 56 };

export function drawHistogram(el, opts) {
  return responsive(el, (width) => draw(el, width, opts));
}

function draw(el, width, o) {
  const height = o.height || 220;
  const bins = o.bins;
  const total = bins.reduce((a, b) => a + b.count, 0);
  // The first bin may start at 0 (values under 1 ns): give it the width of
  // its neighbours on the log axis.
  const ratio = bins.length > 1 && bins[1].lo_ms > 0 ? bins[1].hi_ms / bins[1].lo_ms : 1.1;
  const lo = (b) => (b.lo_ms > 0 ? b.lo_ms : b.hi_ms / ratio);
  let d0 = lo(bins[0]);
  let d1 = bins[bins.length - 1].hi_ms;
  // Keep markers on the axis and give a lone bin some room.
  for (const m of o.markers || []) {
    if (m.value > 0) { d0 = Math.min(d0, m.value); d1 = Math.max(d1, m.value); }
  }
  if (d1 / d0 < 4) { const c = Math.sqrt(d0 * d1); d0 = c / 2; d1 = c * 2; }
  d0 /= 1.05; d1 *= 1.05;
  const x = logScale([d0, d1], [M.left, width - M.right]);
  const maxCount = Math.max(...bins.map((b) => b.count), 1);
  const y = linearScale([0, niceMax(maxCount)], [height - M.bottom, M.top]);
  const yt = y.ticks(4).filter((v) => Number.isInteger(v));

  const svg = svgRoot(width, height, { role: 'img', 'aria-label': o.ariaLabel || '', dataset: { bars: String(bins.length) } });
  svg.append(yAxis(y, yt, (v) => fmtCount(v), M.left, width - M.right));
  svg.append(unitLabel('requests', 4, 12));

  const g = s('g', { class: 'hist-bars' });
  bins.forEach((b, i) => {
    const x0 = x(lo(b));
    const x1 = x(b.hi_ms);
    const w = Math.max(1, x1 - x0 - (x1 - x0 > 4 ? 1 : 0));
    g.append(s('rect', {
      class: 'hist-bar', x: x0.toFixed(2), width: w.toFixed(2),
      y: y(b.count).toFixed(2), height: Math.max(0, y(0) - y(b.count)).toFixed(2), dataset: { i: String(i), count: String(b.count) },
    }));
  });
  svg.append(g);

  const ticks = x.ticks().map((v) => ({ pos: x(v), label: fmtMsLog(v) }));
  svg.append(xAxis(ticks, height - M.bottom, M.left, width - M.right));
  svg.append(s('text', { class: 'axis-unit', x: width - M.right, y: height - 4, 'text-anchor': 'end' }, 'latency (log scale)'));

  // Markers; labels that would overlap move up a line.
  const placed = [];
  for (const m of o.markers || []) {
    if (!(m.value > 0)) continue;
    const px = x(m.value);
    let line = 0;
    while (placed.some((p) => p.line === line && Math.abs(p.px - px) < 70)) line++;
    placed.push({ px, line });
    svg.append(s('g', { class: `hist-marker ${m.cls || ''}`, dataset: { marker: m.label } },
      s('line', { x1: crisp(px), x2: crisp(px), y1: M.top - 2, y2: height - M.bottom, stroke: m.color }),
      // Near the right edge the label goes left of its line.
      s('text', {
        x: px > width - M.right - 90 ? px - 3 : px + 3, 'text-anchor': px > width - M.right - 90 ? 'end' : 'start',
        y: M.top - 4 - line * 12, fill: m.color,
      }, `${m.label} ${fmtDuration(m.value)}`)));
  }

  // Hover: the bin under the pointer.
  const band = s('rect', { class: 'tc-band', y: M.top, height: height - M.top - M.bottom, visibility: 'hidden' });
  svg.append(band);
  const overlay = s('rect', {
    class: 'hist-overlay', x: M.left, y: M.top, width: Math.max(0, width - M.left - M.right), height: height - M.top - M.bottom, fill: 'transparent',
  });
  let cum = 0;
  const below = bins.map((b) => { cum += b.count; return cum; });
  overlay.addEventListener('mousemove', (ev) => {
    const rect = svg.getBoundingClientRect();
    const v = x.invert(ev.clientX - rect.left);
    const i = bins.findIndex((b) => v > lo(b) && v <= b.hi_ms);
    if (i < 0) { band.setAttribute('visibility', 'hidden'); hideTip(); return; }
    const b = bins[i];
    band.setAttribute('x', x(lo(b)));
    band.setAttribute('width', Math.max(1, x(b.hi_ms) - x(lo(b))));
    band.setAttribute('visibility', 'visible');
    showTip(ev, tipContent(`${fmtDuration(b.lo_ms)} – ${fmtDuration(b.hi_ms)}`, [
      { label: 'Requests', value: fmtCount(b.count) },
      { label: 'Share', value: fmtRatioPct(total ? b.count / total : null) },
      { label: 'At or below', value: fmtRatioPct(total ? below[i] / total : null) },
    ]));
  });
  overlay.addEventListener('mouseleave', () => { band.setAttribute('visibility', 'hidden'); hideTip(); });
  svg.append(overlay);
  clear(el).append(svg);
}
