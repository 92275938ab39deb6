// format.js - how numbers and times read on the dashboard.

// Performance tiers come from the server (`tiers` of /api/v1/filters:
// {id, min_ms, max_ms}, max_ms null for the last), so they are defined once.
// The tier of a duration, or null when the tiers are not known.
export function tierOf(ms, tiers) {
  return (tiers || []).find((t) => t.max_ms == null || ms < t.max_ms) || null;
}

export function tierLabel(t) {
  return t.id.charAt(0).toUpperCase() + t.id.slice(1);
}

// "< 100 ms", "100 ms–500 ms", "> 2 s"
export function tierHint(t) {
  const f = (ms) => (ms < 1000 ? `${ms} ms` : `${ms / 1000} s`);
  if (!t.min_ms) return `< ${f(t.max_ms)}`;
  return t.max_ms == null ? `> ${f(t.min_ms)}` : `${f(t.min_ms)}–${f(t.max_ms)}`;
}

// 0.042 ms, 4.20 ms, 42.0 ms, 420 ms, 4.20 s, 4.2 min
export function fmtDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs === 0) return '0 ms';
  if (abs < 1) return `${ms.toFixed(3)} ms`;
  if (abs < 10) return `${ms.toFixed(2)} ms`;
  if (abs < 100) return `${ms.toFixed(1)} ms`;
  if (abs < 1000) return `${ms.toFixed(0)} ms`;
  if (abs < 60000) return `${(ms / 1000).toFixed(2)} s`;
  if (abs < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

// A tick label on an axis that runs from 0 to `total` ms: one unit for the
// whole axis (chosen by its length), no more digits than the step needs.
export function fmtTick(ms, step, total = step) {
  if (ms === 0) return '0';
  let unit = 'ms';
  let div = 1;
  if (total >= 1000) { unit = 's'; div = 1000; } else if (total < 0.001) { unit = 'ns'; div = 1e-6; } else if (total < 1) { unit = 'µs'; div = 0.001; }
  const s = step / div;
  const decimals = s >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(s) - 1e-9));
  return `${(ms / div).toFixed(decimals)} ${unit}`;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` ticks.
export function niceStep(total, target = 6) {
  if (!(total > 0)) return 1;
  const raw = total / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  const nice = m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10;
  return nice * pow;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local wall-clock time; the date is shown when it is not today.
export function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  const now = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function fmtIso(ms) {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

export function fmtValue(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtPercent(part, whole) {
  if (!(whole > 0)) return '–';
  return `${((part / whole) * 100).toFixed(1)} %`;
}

// What the API counted (its `counted` field) in the dashboard's words: the
// fleet counts each trace once, at its edge request; a service's figures
// count that service's entry spans.
export function countedText(counted) {
  if (!counted) return '';
  if (counted === 'edge requests') return 'each trace once, at its edge request';
  return counted;
}
