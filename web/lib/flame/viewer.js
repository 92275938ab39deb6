// viewer.js - a flame graph drawn on one <canvas>: a row per depth, frames
// as rectangles as wide as their value, the root "all" on top (or, with
// `inverted`, at the bottom: the callers half of the sandwich view).
//
// Owns drawing, hit testing, zoom (click a frame; back and reset), search
// highlighting and the tooltip.  The data is a tree from tree.js (or
// diff.js); the tab around it is views/flame.js.
//
// Why canvas: a DOM or SVG node per frame costs layout and memory for
// every frame; here a redraw walks the frames in depth-first order and
// skips every subtree narrower than half a pixel or scrolled out of view;
// frames under a pixel wide are drawn one pixel wide, at most one per
// pixel column of a row (the rest of them, and their subtrees, are
// skipped).  So its cost follows the pixels, not the size of the tree,
// and all frames of one colour are filled as one path.  The canvas is only as tall
// as the visible part of the graph: it sticks to the top of a scroller
// whose spacer is as tall as the whole graph, and redraws on scroll.

import { h } from '../dom.js';
import { showTip, hideTip, tipContent } from '../charts/tooltip.js';
import { fmtDuration, fmtPercent } from '../format.js';
import { nameOf, searchTree } from './tree.js';
import {
  PALETTE, DIM, DIFF_COLORS, nameColorIndex, diffColorIndex,
} from './color.js';
import { diffDelta, SIDE_BASE_ONLY, SIDE_COMPARE_ONLY } from './diff.js';

const ROW = 18;
const MIN_PX = 0.5; // narrower frames (and their subtrees) are not drawn
const LABEL_MIN_PX = 22;
const MAX_ROWS = 400;
const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
// Colour slots: the name palette, then the dim grey, then the diff scale.
const SLOT_DIM = PALETTE.length;
const SLOT_DIFF = PALETTE.length + 1;
const SLOTS = PALETTE.length + 1 + DIFF_COLORS.length;

export const us = (v) => fmtDuration(v / 1000);

// opts: tree, inverted, showRoot (default true), label (aria), colorBy
// ('name' | 'diff'), diffBy ('self' | 'total'), tooltip(t, i) -> content,
// onSelect(i), onZoom(i).
export function createViewer(host, opts = {}) {
  const canvas = h('canvas', {
    class: 'flame-canvas', tabindex: '0', role: 'img',
    'aria-label': opts.label || 'Flame graph',
  });
  const spacer = h('div', { class: 'flame-spacer' }, canvas);
  const scroller = h('div', { class: 'flame-scroll' }, spacer);
  host.classList.add('flame-host');
  host.append(scroller);
  const ctx = canvas.getContext('2d');
  const o = {
    inverted: !!opts.inverted, showRoot: opts.showRoot !== false, colorBy: opts.colorBy || 'name', diffBy: opts.diffBy || 'self',
  };
  let t = null;
  let nameSlot = null;
  let root = 0;
  let history = [];
  let hover = -1;
  let selected = -1;
  let search = null;
  let pending = 0;
  let charW = 0;
  let hatch = null;
  const buckets = Array.from({ length: SLOTS }, () => []);
  const oneSided = [];
  let rowEnd = new Float64Array(0); // per row: pixel columns covered so far
  const stats = { ms: 0, rects: 0, labels: 0, oneSided: 0, width: 0 };

  function setTree(tree) {
    t = tree;
    nameSlot = new Uint8Array(t.names.length);
    for (let k = 0; k < t.names.length; k++) nameSlot[k] = nameColorIndex(t.names[k]);
    root = 0; history = []; hover = -1; selected = -1; search = null;
    host.dataset.frames = String(t.n);
    draw();
    // Callers grow upwards from the picked function at the bottom.
    scroller.scrollTop = o.inverted ? scroller.scrollHeight : 0;
  }

  const rowOffset = () => (o.showRoot ? 0 : 1);
  const rowCount = () => Math.max(1, Math.min(MAX_ROWS, t.maxDepth + 1 - rowOffset()));
  const rowY = (depth, rows) => {
    const r = depth - rowOffset();
    return o.inverted ? (rows - 1 - r) * ROW : r * ROW;
  };

  function slotOf(i) {
    if (search && !search.match[i]) return SLOT_DIM;
    if (o.colorBy === 'diff' && t.diff) {
      return SLOT_DIFF + diffColorIndex(diffDelta(t, i, o.diffBy), t.diff.maxAbs[o.diffBy]);
    }
    return nameSlot[t.nameId[i]];
  }

  function colors() {
    const theme = document.documentElement.dataset.theme === 'light' ? 'light' : 'dark';
    return [...PALETTE, DIM[theme], ...DIFF_COLORS];
  }

  // The visible frames into colour buckets; returns the frames to label.
  // top..top+height is the part of the graph the canvas shows.
  function collect(width, rows, top, height) {
    for (const b of buckets) b.length = 0;
    oneSided.length = 0;
    const labels = [];
    const vx0 = t.x[root];
    const k = t.w[root] > 0 ? width / t.w[root] : 0;
    let n = 0;
    const put = (i, px, pw) => {
      const y = rowY(t.depth[i], rows) - top;
      if (y <= -ROW || y >= height) return;
      buckets[slotOf(i)].push(px, y, pw);
      if (t.diff && t.diff.side[i] !== 0) oneSided.push(px, y, pw);
      n++;
      if (pw >= LABEL_MIN_PX) labels.push(i, px, y, pw);
    };
    // The ancestors of a zoomed frame span the whole width.
    for (let a = t.parent[root]; a >= rowOffset(); a = t.parent[a]) put(a, 0, width);
    const stop = t.end[root];
    if (rowEnd.length < rows) rowEnd = new Float64Array(rows);
    rowEnd.fill(0);
    // Children are one row further from the root: past the visible rows,
    // a whole subtree is out of view.
    const lastDepth = Math.min(rowOffset() + rows - 1,
      o.inverted ? rowOffset() + rows - 1 - Math.floor(top / ROW) : rowOffset() + Math.floor((top + height) / ROW));
    for (let i = root; i < stop;) {
      const pw = t.w[i] * k;
      if (pw < MIN_PX || t.depth[i] > lastDepth) { i = t.end[i]; continue; }
      const r = t.depth[i] - rowOffset();
      if (r >= 0) {
        const px = (t.x[i] - vx0) * k;
        if (pw >= 1) {
          put(i, px, pw);
          rowEnd[r] = Math.max(rowEnd[r], Math.ceil(px + pw));
        } else {
          const col = Math.floor(px);
          if (col < rowEnd[r]) { i = t.end[i]; continue; }
          put(i, col, 1);
          rowEnd[r] = col + 1;
        }
      }
      i++;
    }
    stats.rects = n;
    return labels;
  }

  function fill(palette) {
    for (let s = 0; s < SLOTS; s++) {
      const b = buckets[s];
      if (!b.length) continue;
      ctx.fillStyle = palette[s];
      ctx.beginPath();
      for (let j = 0; j < b.length; j += 3) {
        ctx.rect(b[j], b[j + 1], Math.max(b[j + 2] - 1, 0.5), ROW - 1);
      }
      ctx.fill();
    }
  }

  // Frames on one side of a diff only: hatched, and marked in the label.
  function markOneSided() {
    stats.oneSided = oneSided.length / 3;
    if (!oneSided.length) return;
    if (!hatch) hatch = hatchPattern(ctx);
    ctx.fillStyle = hatch;
    ctx.beginPath();
    for (let j = 0; j < oneSided.length; j += 3) {
      ctx.rect(oneSided[j], oneSided[j + 1], Math.max(oneSided[j + 2] - 1, 0.5), ROW - 1);
    }
    ctx.fill();
  }

  function text(labels, dimText) {
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    if (!charW) charW = ctx.measureText('0000000000').width / 10 || 6.6;
    for (let j = 0; j < labels.length; j += 4) {
      const i = labels[j];
      let name = nameOf(t, i);
      if (t.diff && t.diff.side[i] === SIDE_COMPARE_ONLY) name = `+ ${name}`;
      else if (t.diff && t.diff.side[i] === SIDE_BASE_ONLY) name = `− ${name}`;
      const fit = Math.floor((labels[j + 3] - 6) / charW);
      if (fit < 2) continue;
      ctx.fillStyle = search && !search.match[i] ? dimText : '#16181c';
      ctx.fillText(name.length <= fit ? name : `${name.slice(0, fit - 1)}…`, labels[j + 1] + 3, labels[j + 2] + ROW / 2);
    }
    stats.labels = labels.length / 4;
  }

  function outline(i, color, width, rows, lineWidth) {
    const r = frameBox(i, width, rows);
    if (!r) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.strokeRect(r.x + 0.5, r.y + 0.5, Math.max(r.w - 2, 1), ROW - 2);
  }

  // Where frame i is drawn on the canvas, or null when it is not drawn
  // (y may be outside the canvas when the frame is scrolled out of view).
  function frameBox(i, width, rows) {
    if (i < 0 || !t) return null;
    const top = scroller.scrollTop;
    const isAncestor = i < root || i >= t.end[root];
    if (isAncestor) {
      let a = t.parent[root];
      while (a >= 0 && a !== i) a = t.parent[a];
      if (a !== i) return null;
      return { x: 0, y: rowY(t.depth[i], rows) - top, w: width };
    }
    const k = t.w[root] > 0 ? width / t.w[root] : 0;
    const w = t.w[i] * k;
    if (w < MIN_PX) return null;
    return { x: (t.x[i] - t.x[root]) * k, y: rowY(t.depth[i], rows) - top, w };
  }

  function draw() {
    pending = 0;
    if (!t) return stats;
    const t0 = performance.now();
    const rows = rowCount();
    const full = rows * ROW;
    if (spacer.style.height !== `${full}px`) spacer.style.height = `${full}px`;
    const width = Math.max(1, scroller.clientWidth);
    const height = Math.max(1, Math.min(full, scroller.clientHeight));
    const top = Math.max(0, Math.min(scroller.scrollTop, full - height));
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const css = getComputedStyle(host);
    const cssVar = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const labels = collect(width, rows, top, height);
    fill(colors());
    markOneSided();
    text(labels, cssVar('--muted', '#8b929d'));
    if (selected >= 0) outline(selected, cssVar('--accent', '#ff7a45'), width, rows, 2);
    if (hover >= 0 && hover !== selected) outline(hover, cssVar('--text-strong', '#fff'), width, rows, 1);
    stats.width = width;
    stats.ms = performance.now() - t0;
    host.dataset.root = root === 0 ? 'all' : nameOf(t, root);
    host.dataset.rects = String(stats.rects);
    return { ...stats };
  }

  const schedule = () => { if (!pending) pending = requestAnimationFrame(draw); };

  // The frame under a point of the page (client coordinates), or -1.
  function hit(clientX, clientY) {
    if (!t) return -1;
    const box = canvas.getBoundingClientRect();
    const x = clientX - box.left;
    const y = clientY - box.top + scroller.scrollTop;
    const rows = rowCount();
    if (x < 0 || y < 0 || x >= box.width || clientY - box.top >= box.height || y >= rows * ROW) return -1;
    const row = Math.floor(y / ROW);
    const depth = (o.inverted ? rows - 1 - row : row) + rowOffset();
    if (depth < t.depth[root]) {
      let a = root;
      while (a >= 0 && t.depth[a] > depth) a = t.parent[a];
      return a;
    }
    const fx = t.x[root] + (x / box.width) * t.w[root];
    let i = root;
    if (fx < t.x[i] || fx > t.x[i] + t.w[i]) return -1;
    while (t.depth[i] < depth) {
      let next = -1;
      for (let c = i + 1; c < t.end[i]; c = t.end[c]) {
        if (fx >= t.x[c] && fx < t.x[c] + t.w[c]) { next = c; break; }
      }
      if (next < 0) return -1;
      i = next;
    }
    return frameBox(i, box.width, rows) ? i : -1;
  }

  function zoom(i) {
    if (!t || i < 0 || i === root) return;
    history.push(root);
    root = i;
    if (opts.onZoom) opts.onZoom(root);
    draw();
  }

  function back() {
    if (!history.length) return;
    root = history.pop();
    if (opts.onZoom) opts.onZoom(root);
    draw();
  }

  function reset() {
    history = [];
    root = 0;
    if (opts.onZoom) opts.onZoom(root);
    draw();
  }

  function select(i) {
    selected = i;
    if (opts.onSelect) opts.onSelect(i);
    draw();
  }

  function defaultTip(i) {
    const rows = [
      { label: 'Total', value: us(t.value[i]), strong: true },
      { label: 'Self', value: us(t.self[i]) },
      { label: '% of total', value: fmtPercent(t.value[i], t.value[0]) },
    ];
    if (t.count[i]) rows.push({ label: 'Count', value: String(t.count[i]) });
    return tipContent(i === 0 ? 'all' : nameOf(t, i), rows);
  }

  const onMove = (ev) => {
    const i = hit(ev.clientX, ev.clientY);
    if (i !== hover) { hover = i; schedule(); }
    canvas.style.cursor = i >= 0 ? 'pointer' : 'default';
    if (i >= 0) showTip(ev, (opts.tooltip || ((_, j) => defaultTip(j)))(t, i));
    else hideTip();
  };
  const onLeave = () => { hover = -1; hideTip(); schedule(); };
  const onClick = (ev) => {
    const i = hit(ev.clientX, ev.clientY);
    if (i < 0) return;
    select(i);
    zoom(i);
  };
  const onKey = (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); reset(); } else if (ev.key === 'Backspace') { ev.preventDefault(); back(); }
  };
  canvas.addEventListener('mousemove', onMove);
  canvas.addEventListener('mouseleave', onLeave);
  canvas.addEventListener('click', onClick);
  canvas.addEventListener('keydown', onKey);
  const onScroll = () => { hideTip(); schedule(); };
  scroller.addEventListener('scroll', onScroll, { passive: true });
  let lastSize = '';
  const ro = new ResizeObserver(() => {
    const size = `${scroller.clientWidth}x${scroller.clientHeight}`;
    if (size !== lastSize) { lastSize = size; schedule(); }
  });
  ro.observe(scroller);

  const api = {
    canvas,
    stats,
    get tree() { return t; },
    get root() { return root; },
    get selected() { return selected; },
    get canGoBack() { return history.length > 0; },
    setTree,
    draw,
    zoom,
    back,
    reset,
    select,
    hit,
    frameBox: (i) => frameBox(i, Math.max(1, scroller.clientWidth), rowCount()),
    // A RegExp (or null): matches keep their colour, the rest turn grey.
    setSearch(re) {
      search = re && t ? searchTree(t, re) : null;
      draw();
      return search;
    },
    setColor(colorBy, diffBy) {
      o.colorBy = colorBy;
      if (diffBy) o.diffBy = diffBy;
      draw();
    },
    destroy() {
      ro.disconnect();
      if (pending) cancelAnimationFrame(pending);
      hideTip();
      scroller.remove();
    },
  };
  host.flameViewer = api;
  if (opts.tree) setTree(opts.tree);
  return api;
}

function hatchPattern(ctx) {
  const c = document.createElement('canvas');
  c.width = 6; c.height = 6;
  const g = c.getContext('2d');
  g.strokeStyle = 'rgba(20, 22, 26, 0.55)';
  g.lineWidth = 1.2;
  g.beginPath();
  g.moveTo(0, 6); g.lineTo(6, 0);
  g.moveTo(-1, 1); g.lineTo(1, -1);
  g.moveTo(5, 7); g.lineTo(7, 5);
  g.stroke();
  return ctx.createPattern(c, 'repeat');
}
