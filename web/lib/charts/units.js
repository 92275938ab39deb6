// units.js - how chart values read: durations, rates, percentages, counts.

import { fmtDuration } from '../format.js';

export { fmtDuration };

// Ticks on a log duration axis: 1 ms, 20 ms, 500 ms, 2 s.
export function fmtMsLog(ms) {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  if (ms >= 1) return `${+ms.toPrecision(3)} ms`;
  return `${+(ms * 1000).toPrecision(3)} µs`;
}

// 0.0123 -> "0.012", 3.456 -> "3.46", 1234 -> "1,234"
export function fmtNum(v, digits = 3) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString('en-US');
  if (abs >= 100) return v.toFixed(0);
  return String(+v.toPrecision(digits));
}

export const fmtRate = (v) => (v == null || !Number.isFinite(v) ? '–' : `${fmtNum(v)} req/s`);
export const fmtCount = (v) => (v == null || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));

// A fraction (0.0123) as a percentage ("1.23 %").
export function fmtRatioPct(r) {
  if (r == null || !Number.isFinite(r)) return '–';
  const p = r * 100;
  if (p === 0) return '0 %';
  if (p < 0.01) return '< 0.01 %';
  return `${p < 10 ? p.toFixed(2) : p.toFixed(1)} %`;
}

export function fmtPctTick(p, step = p) {
  const decimals = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
  return `${p.toFixed(decimals)} %`;
}
