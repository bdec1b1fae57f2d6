import type { StoreSpec } from '../../src/train/store-machine';

export const H = 3_600_000;

/** A sample-store spec in hours, with daily buckets and a retention that never binds. */
export const hourSpec = (window: number, horizon: number, lookback: number, near: number): StoreSpec => ({
  window,
  horizonMs: horizon * H,
  logLookbackMs: lookback * H,
  nearMs: near * H,
  bucketMs: 24 * H,
  retentionMs: 3650 * 24 * H,
});
