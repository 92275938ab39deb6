// scale.js - the scales and ticks of the charts: linear and log value axes,
// and a time axis whose ticks fall on round local times.

import { niceStep } from '../format.js';

// value -> pixel on [r0, r1]; .ticks(n) gives round values inside the
// domain; .invert(px) goes back.
export function linearScale([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + ((v - d0) / span) * (r1 - r0);
  f.invert = (px) => d0 + ((px - r0) / (r1 - r0)) * span;
  f.domain = [d0, d1];
  f.range = [r0, r1];
  f.ticks = (n = 5) => {
    const step = niceStep(d1 - d0, n);
    const out = [];
    for (let v = Math.ceil(d0 / step) * step; v <= d1 + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    out.step = step;
    return out;
  };
  return f;
}

// A linear domain [0, m] where m is a round number at or above `max`.
export function niceMax(max, n = 4) {
  if (!(max > 0)) return 1;
  const step = niceStep(max, n);
  return Math.ceil(max / step - 1e-9) * step;
}

// log10 scale; ticks at 1, 2, 5 × 10^k (only the powers of ten when the
// domain spans many decades).
export function logScale([d0, d1], [r0, r1]) {
  const l0 = Math.log10(d0);
  const l1 = Math.log10(d1);
  const span = l1 - l0 || 1;
  const f = (v) => r0 + ((Math.log10(Math.max(v, d0 * 1e-3)) - l0) / span) * (r1 - r0);
  f.invert = (px) => 10 ** (l0 + ((px - r0) / (r1 - r0)) * span);
  f.domain = [d0, d1];
  f.range = [r0, r1];
  f.ticks = () => {
    const mults = span > 4 ? [1] : span > 2 ? [1, 3] : [1, 2, 5];
    const out = [];
    for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
      for (const m of mults) {
        const v = m * 10 ** e;
        if (v >= d0 * (1 - 1e-9) && v <= d1 * (1 + 1e-9)) out.push(+v.toPrecision(12));
      }
    }
    return out;
  };
  return f;
}

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const TIME_STEPS = [SEC, 5 * SEC, 15 * SEC, 30 * SEC, MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

const pad = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// Ticks for [t0, t1] (ms since the epoch) at round local times, about
// `target` of them, each with its label: "14:05", "14:05:30", or "Mar 4" at
// midnight for day steps (a date is added where the day changes).
export function timeTicks(t0, t1, target = 6) {
  const span = t1 - t0;
  const step = TIME_STEPS.find((st) => span / st <= target) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = new Date(t0).getTimezoneOffset() * MIN;
  let first;
  if (step >= DAY) {
    const d = new Date(t0);
    d.setHours(0, 0, 0, 0);
    first = d.getTime();
    if (first < t0) first += DAY;
  } else {
    first = Math.ceil((t0 - offset) / step) * step + offset;
  }
  const out = [];
  let lastDay = null;
  for (let t = first; t <= t1; t += step) {
    const d = new Date(t);
    const day = d.toDateString();
    let label;
    if (step >= DAY || (d.getHours() === 0 && d.getMinutes() === 0 && span > 6 * HOUR)) {
      label = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
    } else {
      label = `${pad(d.getHours())}:${pad(d.getMinutes())}${step < MIN ? `:${pad(d.getSeconds())}` : ''}`;
      if (span > DAY && lastDay !== null && day !== lastDay) label = `${MONTHS[d.getMonth()]} ${d.getDate()} ${label}`;
    }
    lastDay = day;
    out.push({ t, label });
  }
  return out;
}

// "14:05:00–14:06:00" or "Mar 4 14:00–15:00": the span of a time bucket in
// a tooltip.
export function fmtBucket(t, stepMs) {
  const a = new Date(t);
  const b = new Date(t + stepMs);
  const hm = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}${stepMs < MIN ? `:${pad(d.getSeconds())}` : ''}`;
  const today = new Date().toDateString();
  const date = a.toDateString() === today ? '' : `${MONTHS[a.getMonth()]} ${a.getDate()} `;
  return `${date}${hm(a)}–${hm(b)}`;
}

// "14:05", or "Mar 4 14:05" when not today.
export function fmtClock(t) {
  const d = new Date(t);
  const date = d.toDateString() === new Date().toDateString() ? '' : `${MONTHS[d.getMonth()]} ${d.getDate()} `;
  return `${date}${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
