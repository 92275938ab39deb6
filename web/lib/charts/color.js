// color.js - the sequential colour scale of the heatmaps: dim blue for
// little, through teal and yellow, to red for the most (readable on the
// dark and the light theme).

const STOPS = [
  [0.00, [49, 54, 149]],
  [0.25, [69, 117, 180]],
  [0.45, [116, 173, 209]],
  [0.62, [254, 224, 144]],
  [0.80, [253, 174, 97]],
  [1.00, [215, 48, 39]],
];

// t in [0, 1] -> "rgb(r, g, b)"
export function heat(t) {
  const u = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (u <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const f = (u - t0) / (t1 - t0);
      const c = c0.map((v, k) => Math.round(v + (c1[k] - v) * f));
      return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    }
  }
  const c = STOPS[STOPS.length - 1][1];
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

// The CSS gradient of the same scale, for a legend.
export function heatGradient(direction = 'to right') {
  return `linear-gradient(${direction}, ${STOPS.map(([t]) => `${heat(t)} ${(t * 100).toFixed(0)}%`).join(', ')})`;
}

// Value -> [0, 1] on a log scale between lo and hi (both > 0).
export function logUnit(v, lo, hi) {
  if (!(v > 0)) return 0;
  if (!(hi > lo)) return 1;
  return (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
}
