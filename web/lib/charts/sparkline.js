// sparkline.js - a small line of a trend without axes (gaps where a value
// is missing); the tooltip gives the exact value of the point under the
// pointer.
//
//   sparkline(values, {width, height, color, times, stepMs, fmtValue, label,
//              threshold, zero})
// returns an <svg>.

import { s } from './svg.js';
import { fmtBucket } from './scale.js';
import { showTip, hideTip, tipContent } from './tooltip.js';

export function sparkline(values, o = {}) {
  const width = o.width || 120;
  const height = o.height || 28;
  const pad = 2;
  const n = values.length;
  const known = values.filter((v) => v != null && Number.isFinite(v));
  const svg = s('svg', {
    class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': o.label || 'trend', dataset: { points: String(known.length) },
  });
  if (!known.length) {
    svg.append(s('line', { class: 'spark-none', x1: pad, x2: width - pad, y1: height / 2, y2: height / 2 }));
    return svg;
  }
  // An SLO target, when there is one, stays in view as a dashed line.
  const limit = Number.isFinite(o.threshold) ? o.threshold : null;
  const max = Math.max(...known, limit ?? -Infinity);
  const min = Math.min(...known, limit ?? Infinity);
  const lo = o.zero ? 0 : min;
  const span = max - lo || max || 1;
  const x = (i) => (n === 1 ? width / 2 : pad + (i / (n - 1)) * (width - 2 * pad));
  const y = (v) => height - pad - ((v - lo) / span) * (height - 2 * pad) * (max === lo ? 0.5 : 1) - (max === lo ? (height - 2 * pad) / 4 : 0);
  let d = '';
  let pen = false;
  let last = null;
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) { pen = false; return; }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
    last = i;
  });
  const color = o.color || 'currentColor';
  if (limit != null) {
    svg.append(s('line', { class: 'spark-threshold', x1: 0, x2: width, y1: y(limit), y2: y(limit) }));
  }
  svg.append(s('path', { class: 'spark-line', d, stroke: color }));
  // Lone points (no neighbour to draw a line to) and the last point.
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) return;
    const alone = (i === 0 || values[i - 1] == null) && (i === n - 1 || values[i + 1] == null);
    if (alone || i === last) svg.append(s('circle', { class: 'spark-dot', cx: x(i), cy: y(v), r: 1.8, fill: color }));
  });
  if (o.fmtValue) {
    const dot = s('circle', { class: 'spark-hover', r: 2.5, fill: color, visibility: 'hidden' });
    svg.append(dot);
    svg.addEventListener('mousemove', (ev) => {
      const rect = svg.getBoundingClientRect();
      const i = Math.max(0, Math.min(n - 1, Math.round(n === 1 ? 0 : ((ev.clientX - rect.left - pad) / (width - 2 * pad)) * (n - 1))));
      const v = values[i];
      if (v != null && Number.isFinite(v)) {
        dot.setAttribute('cx', x(i));
        dot.setAttribute('cy', y(v));
        dot.setAttribute('visibility', 'visible');
      } else dot.setAttribute('visibility', 'hidden');
      const title = o.times && o.stepMs ? fmtBucket(o.times[i], o.stepMs) : null;
      showTip(ev, tipContent(title, [{ label: o.label || 'value', value: o.fmtValue(v) }]));
    });
    svg.addEventListener('mouseleave', () => { dot.setAttribute('visibility', 'hidden'); hideTip(); });
  }
  return svg;
}
