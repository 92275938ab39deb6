// tree.js - the flame graph's data: a tree of frames held in flat typed
// arrays in depth-first order, so 100,000 frames cost a few arrays rather
// than 100,000 objects, and a whole subtree is the index range i..end[i].
//
// Owns building a tree (merging sibling frames of the same name), its
// layout in value units, search, the function table and the two merged
// trees of the sandwich view.  Drawing is in viewer.js, diff values in
// diff.js.
//
// A tree: {n, names, nameId, parent, depth, end, value, self, count, x, w,
// maxDepth, extra}.  Node 0 is the root of everything ("all"); value and
// self are microseconds (any unit works); count is how many requests (or
// spans) a frame stands for, or 0 when not known; extra[i] holds what the
// source attached to a frame (span ids, diff sides), or is undefined.

// The name of a frame as the server names it: "service: span name".
export function frameName(service, name) {
  return service ? `${service}: ${name}` : String(name ?? '');
}

// Source nodes -> tree.  `roots` are the top-level source nodes; `src` reads
// them: children(s), name(s), value(s), self(s), count(s) and optionally
// merge(extraSoFar, s) to collect per-frame data.  Siblings with the same
// name are merged (values summed), as the server merges requests by path.
export function buildTree(roots, src, rootValue = null) {
  const names = [];
  const nameIndex = new Map();
  const intern = (s) => {
    let id = nameIndex.get(s);
    if (id === undefined) { id = names.length; names.push(s); nameIndex.set(s, id); }
    return id;
  };
  intern('all');
  let cap = 1024;
  let a = alloc(cap);
  let n = 0;
  const extra = [];
  const grow = () => { cap *= 2; a = realloc(a, cap); };

  // Each stack entry is a group of source nodes that become one frame.
  const stack = [{ group: null, parent: -1, depth: 0 }];
  while (stack.length) {
    const { group, parent, depth } = stack.pop();
    if (n >= cap) grow();
    const i = n++;
    a.parent[i] = parent;
    a.depth[i] = depth;
    let kids;
    if (group === null) {
      a.nameId[i] = 0;
      kids = roots;
    } else {
      a.nameId[i] = intern(src.name(group[0]));
      let v = 0; let s = 0; let c = 0; let x;
      kids = [];
      for (const g of group) {
        v += src.value(g); s += src.self(g); c += src.count ? src.count(g) : 0;
        if (src.merge) x = src.merge(x, g);
        const ch = src.children(g);
        if (ch) for (const k of ch) kids.push(k);
      }
      a.value[i] = v; a.self[i] = s; a.count[i] = c;
      if (x !== undefined) extra[i] = x;
    }
    const groups = groupByName(kids, src);
    for (let k = groups.length - 1; k >= 0; k--) stack.push({ group: groups[k], parent: i, depth: depth + 1 });
  }
  const t = finish(a, n, names, extra);
  let sum = 0;
  for (let c = 1; c < t.end[0]; c = t.end[c]) sum += t.value[c];
  t.value[0] = rootValue ?? sum;
  layout(t);
  return t;
}

function groupByName(kids, src) {
  if (kids.length < 2) return kids.map((k) => [k]);
  const by = new Map();
  const out = [];
  for (const k of kids) {
    const key = src.name(k);
    const g = by.get(key);
    if (g) g.push(k);
    else { const ng = [k]; by.set(key, ng); out.push(ng); }
  }
  return out;
}

function alloc(cap) {
  return {
    nameId: new Int32Array(cap), parent: new Int32Array(cap), depth: new Uint16Array(cap),
    value: new Float64Array(cap), self: new Float64Array(cap), count: new Float64Array(cap),
  };
}

function realloc(a, cap) {
  const b = alloc(cap);
  for (const k of Object.keys(a)) b[k].set(a[k]);
  return b;
}

function finish(a, n, names, extra) {
  const t = {
    n, names, extra,
    nameId: a.nameId.slice(0, n), parent: a.parent.slice(0, n), depth: a.depth.slice(0, n),
    value: a.value.slice(0, n), self: a.self.slice(0, n), count: a.count.slice(0, n),
    end: new Int32Array(n), x: new Float64Array(n), w: new Float64Array(n), maxDepth: 0,
  };
  const size = new Int32Array(n).fill(1);
  for (let i = n - 1; i > 0; i--) size[t.parent[i]] += size[i];
  for (let i = 0; i < n; i++) {
    t.end[i] = i + size[i];
    if (t.depth[i] > t.maxDepth) t.maxDepth = t.depth[i];
  }
  return t;
}

// Children side by side from their parent's left edge, widths by value.
// Children worth more than their parent (parallel spans of one trace) are
// scaled down to fit, so a frame never sticks out of its parent and a
// subtree too narrow to draw can be skipped whole.
export function layout(t) {
  t.x[0] = 0;
  t.w[0] = t.value[0];
  for (let i = 0; i < t.n; i++) {
    let sum = 0;
    for (let c = i + 1; c < t.end[i]; c = t.end[c]) sum += t.value[c];
    const basis = Math.max(t.value[i], sum);
    const k = basis > 0 ? t.w[i] / basis : 0;
    let x = t.x[i];
    for (let c = i + 1; c < t.end[i]; c = t.end[c]) {
      t.x[c] = x;
      t.w[c] = t.value[c] * k;
      x += t.w[c];
    }
  }
}

export const nameOf = (t, i) => t.names[t.nameId[i]];

// Iterate the children of i.
export function* childrenOf(t, i) {
  for (let c = i + 1; c < t.end[i]; c = t.end[c]) yield c;
}

// --- sources: the API's JSON and plain objects ------------------------------

// GET /api/v1/flamegraph?trace_id=…: spans become frames, same-named
// siblings merged; count is the number of spans, extra the span ids.
export function fromTraceJson(data) {
  return buildTree(data.roots || [], {
    children: (s) => s.children,
    name: (s) => frameName(s.service, s.name),
    value: (s) => s.value_us || 0,
    self: (s) => s.self_us || 0,
    count: () => 1,
    merge: (x, s) => { const ids = x || []; if (s.span_id) ids.push(s.span_id); return ids; },
  });
}

// The aggregated answer (mode "aggregate"): count is requests, extra a
// trace the frame occurs in (example_trace_id).
export function fromAggregateJson(data) {
  const root = data.root || { children: [] };
  return buildTree(root.children || [], {
    children: (s) => s.children,
    name: (s) => frameName(s.service, s.name),
    value: (s) => s.value_us || 0,
    self: (s) => s.self_us || 0,
    count: (s) => s.count || 0,
    merge: (x, s) => x || s.example_trace_id || undefined,
  }, root.value_us || null);
}

// {name, value, self?, children?} objects, e.g. generated test data.  A
// missing self is the value less the children's.
export function fromObjects(roots) {
  return buildTree(roots, {
    children: (s) => s.children,
    name: (s) => s.name,
    value: (s) => s.value,
    self: (s) => s.self ?? Math.max(0, s.value - (s.children || []).reduce((acc, c) => acc + c.value, 0)),
    count: (s) => s.count || 0,
  });
}

// --- search --------------------------------------------------------------------

// Frames whose name matches `re`: {match: Uint8Array per frame, frames,
// value, percent}.  value counts a match inside a match once, so the
// percentage of recursive code never passes 100.
export function searchTree(t, re) {
  const nameHit = new Uint8Array(t.names.length);
  for (let k = 1; k < t.names.length; k++) {
    re.lastIndex = 0;
    nameHit[k] = re.test(t.names[k]) ? 1 : 0;
  }
  const match = new Uint8Array(t.n);
  let frames = 0;
  let value = 0;
  let inside = 0; // end of the outermost match being walked
  for (let i = 1; i < t.n; i++) {
    if (!nameHit[t.nameId[i]]) continue;
    match[i] = 1;
    frames++;
    if (i >= inside) { value += t.value[i]; inside = t.end[i]; }
  }
  const total = t.value[0];
  return { match, frames, value, percent: total > 0 ? (value / total) * 100 : 0 };
}

// A search box's text -> RegExp, or an Error saying what is wrong.
export function searchRegExp(text) {
  if (!text) return null;
  try {
    return new RegExp(text, 'i');
  } catch (err) {
    return err;
  }
}

// --- the function table and the sandwich ----------------------------------------

// Per function name: self (summed) and total (summed over occurrences not
// nested in another occurrence of the same name), sorted by `by`.
export function functionTable(t, by = 'self') {
  const self = new Float64Array(t.names.length);
  const total = new Float64Array(t.names.length);
  const calls = new Float64Array(t.names.length);
  const active = new Int32Array(t.names.length);
  const open = []; // frames on the current path
  for (let i = 1; i < t.n; i++) {
    while (open.length && t.end[open[open.length - 1]] <= i) active[t.nameId[open.pop()]]--;
    const id = t.nameId[i];
    self[id] += t.self[i];
    calls[id] += t.count[i];
    if (active[id] === 0) total[id] += t.value[i];
    active[id]++;
    open.push(i);
  }
  const rows = [];
  for (let k = 1; k < t.names.length; k++) {
    rows.push({ name: t.names[k], self: self[k], total: total[k], count: calls[k] });
  }
  rows.sort((a, b) => b[by] - a[by] || a.name.localeCompare(b.name));
  return rows;
}

// The outermost occurrences of a name (not inside another occurrence).
function outermost(t, name) {
  const id = t.names.indexOf(name);
  const out = [];
  if (id < 1) return out;
  for (let i = 1; i < t.n;) {
    if (t.nameId[i] === id) { out.push(i); i = t.end[i]; } else i++;
  }
  return out;
}

// What `name` calls: its outermost occurrences' subtrees merged into one
// tree whose single top frame is `name`.
export function calleesTree(t, name) {
  return buildTree(outermost(t, name), {
    children: (i) => [...childrenOf(t, i)],
    name: (i) => nameOf(t, i),
    value: (i) => t.value[i],
    self: (i) => t.self[i],
    count: (i) => t.count[i],
  });
}

// Who calls `name`: the paths from each outermost occurrence up to the
// root, reversed and merged, each weighted by the occurrence's value.  The
// top frame is `name`; below it (drawn above it) its callers, theirs, ….
// A source node is {at: a frame on the path, w, c: the occurrence's value
// and count}.
export function callersTree(t, name) {
  return buildTree(outermost(t, name).map((i) => ({ at: i, w: t.value[i], c: t.count[i] })), {
    children: (o) => (t.parent[o.at] > 0 ? [{ at: t.parent[o.at], w: o.w, c: o.c }] : []),
    name: (o) => nameOf(t, o.at),
    value: (o) => o.w,
    // A caller's own share: the paths that start at it (a top-level frame).
    self: (o) => (t.parent[o.at] === 0 ? o.w : 0),
    count: (o) => o.c,
  });
}

// The path of frame names from the top to i, for tests and titles.
export function pathOf(t, i) {
  const out = [];
  for (let p = i; p > 0; p = t.parent[p]) out.unshift(nameOf(t, p));
  return out;
}
