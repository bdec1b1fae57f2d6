/**
 * mulberry32: a tiny, fast, well-mixed 32-bit PRNG. The simulator, the training shuffles and the search
 * draw from it so that a seed always gives the same run; `Math.random` is never used for those.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
