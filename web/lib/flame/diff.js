// diff.js - differential flame graphs from the server's answer
// (GET /api/v1/flamegraph with base.* and compare.* parameters, mode
// "diff"): per frame the two sides' values, the base normalised to the
// compare side's total when the two sets differ in size, which side a
// frame exists on, and the change the colour shows.
//
// Owns the numbers, not the drawing (viewer.js colours frames with
// diffColorIndex from color.js) nor the legend (views/flame.js).

import { buildTree, frameName } from './tree.js';

export const SIDE_BOTH = 0;
export const SIDE_BASE_ONLY = 1;
export const SIDE_COMPARE_ONLY = 2;

// -> a tree (tree.js) with t.diff = {base, baseSelf, cmp, cmpSelf (Float64Array,
// base values already normalised), side (Uint8Array), scale, normalised,
// baseTraces, compareTraces, baseTotal, compareTotal, maxAbs: {self, total}}.
// A frame's width is the mean of its two sides, so frames that exist on one
// side only are still drawn (at half their width).
export function fromDiffJson(data) {
  const root = data.root || { children: [] };
  const bt = (data.base && data.base.traces) || 0;
  const ct = (data.compare && data.compare.traces) || 0;
  const baseTotal = (root.base && root.base.value_us) || 0;
  const compareTotal = (root.compare && root.compare.value_us) || 0;
  // Sets of different sizes: scale the base to the compare side's total, as
  // the server's SVG does, so widths and colours compare shares of time.
  const normalised = bt !== ct && baseTotal > 0 && compareTotal > 0;
  const scale = normalised ? compareTotal / baseTotal : 1;
  const side = (s, k) => (s[k] ? s[k] : { value_us: 0, self_us: 0, count: 0 });
  const mean = (s, key) => (side(s, 'base')[key] * scale + side(s, 'compare')[key]) / 2;

  const t = buildTree(root.children || [], {
    children: (s) => s.children,
    name: (s) => frameName(s.service, s.name),
    value: (s) => mean(s, 'value_us'),
    self: (s) => mean(s, 'self_us'),
    count: (s) => side(s, 'base').count + side(s, 'compare').count,
    merge: (x, s) => (x ? [...x, s] : [s]),
  }, (baseTotal * scale + compareTotal) / 2);

  const d = {
    base: new Float64Array(t.n), baseSelf: new Float64Array(t.n), baseCount: new Float64Array(t.n),
    cmp: new Float64Array(t.n), cmpSelf: new Float64Array(t.n), cmpCount: new Float64Array(t.n),
    side: new Uint8Array(t.n),
    scale, normalised, baseTraces: bt, compareTraces: ct, baseTotal, compareTotal,
    maxAbs: { self: 0, total: 0 },
  };
  d.base[0] = baseTotal * scale; d.cmp[0] = compareTotal;
  d.baseCount[0] = bt; d.cmpCount[0] = ct;
  for (let i = 1; i < t.n; i++) {
    for (const s of t.extra[i] || []) {
      const b = side(s, 'base');
      const c = side(s, 'compare');
      d.base[i] += b.value_us * scale; d.baseSelf[i] += b.self_us * scale; d.baseCount[i] += b.count;
      d.cmp[i] += c.value_us; d.cmpSelf[i] += c.self_us; d.cmpCount[i] += c.count;
    }
    d.side[i] = d.baseCount[i] === 0 && d.base[i] === 0 ? SIDE_COMPARE_ONLY
      : d.cmpCount[i] === 0 && d.cmp[i] === 0 ? SIDE_BASE_ONLY : SIDE_BOTH;
    d.maxAbs.self = Math.max(d.maxAbs.self, Math.abs(d.cmpSelf[i] - d.baseSelf[i]));
    d.maxAbs.total = Math.max(d.maxAbs.total, Math.abs(d.cmp[i] - d.base[i]));
  }
  t.extra = [];
  t.diff = d;
  return t;
}

// The change of frame i that the colour shows: by self or inclusive time.
export function diffDelta(t, i, by) {
  const d = t.diff;
  return by === 'self' ? d.cmpSelf[i] - d.baseSelf[i] : d.cmp[i] - d.base[i];
}
