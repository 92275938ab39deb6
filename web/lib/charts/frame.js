// frame.js - what every chart shares: drawing at the width of its box and
// again when that width changes, and the axes.

import { s, crisp } from './svg.js';

// Calls draw(width) now and whenever el's width changes; returns the
// function that stops watching.
export function responsive(el, draw) {
  let width = 0;
  const run = () => {
    const w = Math.floor(el.clientWidth);
    if (w > 0 && w !== width) { width = w; draw(w); }
  };
  run();
  if (typeof ResizeObserver === 'undefined') return () => {};
  let frame = 0;
  const ro = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(run);
  });
  ro.observe(el);
  return () => { cancelAnimationFrame(frame); ro.disconnect(); };
}

// Horizontal grid lines and tick labels of a y scale, left of x0.
export function yAxis(y, ticks, fmt, x0, x1) {
  return s('g', { class: 'axis axis-y' }, ticks.map((v) => s('g', null,
    s('line', { class: 'grid-line', x1: x0, x2: x1, y1: crisp(y(v)), y2: crisp(y(v)) }),
    s('text', { x: x0 - 6, y: y(v), dy: '0.32em', 'text-anchor': 'end' }, fmt(v, ticks.step)))));
}

// Tick marks and labels of an x axis along y0; `ticks` = [{pos, label}].
export function xAxis(ticks, y0, x0, x1) {
  return s('g', { class: 'axis axis-x' },
    s('line', { class: 'axis-line', x1: x0, x2: x1, y1: crisp(y0), y2: crisp(y0) }),
    ticks.map((t) => s('g', null,
      s('line', { class: 'tick', x1: crisp(t.pos), x2: crisp(t.pos), y1: y0, y2: y0 + 4 }),
      s('text', { x: t.pos, y: y0 + 15, 'text-anchor': 'middle' }, t.label))));
}

// The unit of the y axis, above it: "ms", "req/s", "%".
export function unitLabel(text, x, y = 10) {
  return s('text', { class: 'axis-unit', x, y, 'text-anchor': 'start' }, text);
}
