import type { StoreSpec } from '../../src/train/store-machine';

export const H = 3_600_000;

/** A sample-store spec in hours, with daily buckets and a retention that never binds. */
export const hourSpec = (
  window: number,
  horizon: number,
  lookback: number,
  near: number,
  nearShare = 1,
): StoreSpec => ({
  window,
  horizonMs: horizon * H,
  logLookbackMs: lookback * H,
  nearMs: near * H,
  nearShare,
  bucketMs: 24 * H,
  retentionMs: 3650 * 24 * H,
});

/** A raw record as the version before the reservoir counts wrote it: the same, minus the counts in the header. */
export function withoutCounts(raw: Buffer): Buffer {
  const length = raw.readUInt32LE(4);
  const header = JSON.parse(raw.toString('utf8', 8, 8 + length)) as Record<string, unknown>;
  delete header.seen;
  delete header.seenBucketMs;
  const text = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(text.length);
  return Buffer.concat([raw.subarray(0, 4), size, text, raw.subarray(8 + length)]);
}
