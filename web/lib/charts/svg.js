// svg.js - a tiny SVG element builder (the SVG twin of dom.js's h()): data
// reaches the chart only as attribute values and text nodes.

const NS = 'http://www.w3.org/2000/svg';

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// An <svg> sized to its box in CSS pixels (1 user unit = 1 px).
export function svgRoot(width, height, attrs = {}) {
  return s('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', ...attrs,
  });
}

// Round to half pixels so 1 px lines are crisp.
export const crisp = (v) => Math.round(v) + 0.5;
