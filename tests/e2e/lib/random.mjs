// random.mjs - seeded randomness for the tests' generated traffic, so that a
// failure can be replayed: the e2e and browser tests share it.

/** mulberry32: a small seeded PRNG; returns () => a number in [0, 1). */
export function rng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** A standard normal variate (Box-Muller) drawn from `rand`. */
export function gaussian(rand) {
	return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}
