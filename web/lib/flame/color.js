// color.js - the colours of flame graph frames: a stable warm colour per
// frame name (the same function has the same colour in every graph and
// after every reload), the red/blue scale of differential graphs, and the
// greys of frames a search leaves out.  Colours are few and fixed so the
// viewer can fill all frames of one colour with a single path.

const NAME_COLORS = 24;

// Warm hues (red through yellow, as flame graphs have been since
// flamegraph.pl), lightness varied so neighbours differ.
export const PALETTE = Array.from({ length: NAME_COLORS }, (_, k) => {
  const hue = 8 + ((k * 7) % NAME_COLORS) * (44 / NAME_COLORS);
  const light = 52 + (k % 3) * 6;
  return `hsl(${hue.toFixed(1)} 78% ${light}%)`;
});

// FNV-1a of the name, so a colour depends on nothing but the name.
export function nameHash(name) {
  let x = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    x ^= name.charCodeAt(i);
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

export function nameColorIndex(name) {
  return nameHash(name) % NAME_COLORS;
}

export function nameColor(name) {
  return PALETTE[nameColorIndex(name)];
}

// Frames a search did not match, and the ancestors drawn above a zoom.
export const DIM = { dark: '#3a404c', light: '#d5d9df' };

// Differential colour scale: index 0..2*DIFF_STEPS, DIFF_STEPS = no change;
// below it blue (shrank), above it red (grew).
export const DIFF_STEPS = 5;
export const DIFF_COLORS = Array.from({ length: 2 * DIFF_STEPS + 1 }, (_, k) => {
  const d = (k - DIFF_STEPS) / DIFF_STEPS; // -1..1
  if (d === 0) return 'hsl(220 8% 62%)';
  const hue = d > 0 ? 0 : 215;
  const sat = 25 + Math.abs(d) * 60;
  const light = 72 - Math.abs(d) * 22;
  return `hsl(${hue} ${sat.toFixed(0)}% ${light.toFixed(0)}%)`;
});

// A change (compare minus normalised base) -> index into DIFF_COLORS,
// relative to the largest change in the graph.  Changes under 1% of the
// largest count as none.
export function diffColorIndex(delta, maxAbs) {
  if (!(maxAbs > 0) || Math.abs(delta) < maxAbs * 0.01) return DIFF_STEPS;
  const step = Math.max(1, Math.min(DIFF_STEPS, Math.ceil((Math.abs(delta) / maxAbs) * DIFF_STEPS)));
  return DIFF_STEPS + Math.sign(delta) * step;
}

// The CSS gradient of the scale, for the legend.
export function diffGradient() {
  return `linear-gradient(to right, ${DIFF_COLORS.join(', ')})`;
}
