import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fastLog, fastReading } from '../../src/ingest/fast';
import { logSchema, readingSchema } from '../../src/ingest/schemas';

/** A small seeded generator, so a failure names a reproducible document. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const MACHINE_IDS: unknown[] = [
  'm-1',
  ' m-1',
  'm-1 ',
  '',
  ' ',
  'm\t1',
  'm\u00001',
  'x'.repeat(200),
  'x'.repeat(201),
  'ünï-7',
  7,
  null,
  undefined,
];
const TIMES: unknown[] = [
  0,
  1_700_000_000_000,
  -1,
  1.5,
  8.64e15,
  8.64e15 + 1,
  '2026-11-29T08:00:00Z',
  '2026-11-29T08:00:00.123+01:00',
  '2026-11-29T08:00',
  '2026-13-45T08:00:00Z',
  'yesterday',
  '',
  null,
  true,
  undefined,
];
const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`s${i}`, i]));
const VALUES: unknown[] = [
  { volt: 171.2 },
  { volt: 1, rotate: -2.5e-3 },
  {},
  { volt: '1' },
  { '': 1 },
  { ['k'.repeat(101)]: 1 },
  { volt: null },
  many,
  [1, 2],
  null,
  'v',
  undefined,
];
const TEXTS: unknown[] = ['error3 pressure drop', '', 'x'.repeat(20_001), 5, null, undefined];
const EXTRA: unknown[] = [undefined, undefined, 1, { nested: true }];

/** Valid choices sit first in each list: half the time pick among those, so both paths get exercised. */
function pick<T>(next: () => number, xs: readonly T[], valid = 2): T {
  const n = next() < 0.5 ? valid : xs.length;
  return xs[Math.floor(next() * n)]!;
}

function withExtra(doc: Record<string, unknown>, extra: unknown): Record<string, unknown> {
  return extra === undefined ? doc : { ...doc, extra };
}

const toMillis = (ts: number | string) => (typeof ts === 'number' ? ts : Date.parse(ts));

/**
 * Runs `count` generated documents through the fast check and, where it accepts, through zod: zod must
 * accept too, with the same decoded value. Returns how many took the fast path.
 */
function agreeWithZod<T>(
  count: number,
  makeDoc: () => Record<string, unknown>,
  fast: (doc: unknown) => T | undefined,
  viaZod: (doc: unknown) => T | undefined,
): number {
  let accepted = 0;
  for (let i = 0; i < count; i++) {
    const doc = makeDoc();
    const quick = fast(doc);
    if (quick === undefined) continue;
    accepted++;
    const slow = viaZod(doc);
    assert.ok(slow !== undefined, `fast accepted what zod refuses: ${JSON.stringify(doc)}`);
    assert.deepEqual(quick, slow, JSON.stringify(doc));
  }
  return accepted;
}

test('the hand-written reading check accepts only what zod accepts, with the same result', () => {
  const next = rng(15);
  const makeDoc = () =>
    withExtra(
      { machineId: pick(next, MACHINE_IDS), ts: pick(next, TIMES), values: pick(next, VALUES) },
      pick(next, EXTRA),
    );
  const accepted = agreeWithZod(3_000, makeDoc, fastReading, (doc) => {
    const zod = readingSchema.safeParse(doc);
    return zod.success
      ? { machineId: zod.data.machineId, ts: toMillis(zod.data.ts), values: zod.data.values }
      : undefined;
  });
  // The generator must exercise the accepting side too, or the loop proves nothing.
  assert.ok(accepted > 200, `only ${accepted} documents took the fast path`);
});

test('the hand-written log check accepts only what zod accepts, with the same result', () => {
  const next = rng(9);
  const makeDoc = () =>
    withExtra(
      { machineId: pick(next, MACHINE_IDS), ts: pick(next, TIMES), text: pick(next, TEXTS) },
      pick(next, EXTRA),
    );
  const accepted = agreeWithZod(2_000, makeDoc, fastLog, (doc) => {
    const zod = logSchema.safeParse(doc);
    return zod.success
      ? { machineId: zod.data.machineId, ts: toMillis(zod.data.ts), text: zod.data.text }
      : undefined;
  });
  assert.ok(accepted > 200, `only ${accepted} documents took the fast path`);
});

test('what the fast path declines is not judged by it: the common clean shapes are accepted', () => {
  assert.deepEqual(fastReading({ machineId: 'm-017', ts: '2026-11-29T08:00:00Z', values: { volt: 171.2 } }), {
    machineId: 'm-017',
    ts: Date.parse('2026-11-29T08:00:00Z'),
    values: { volt: 171.2 },
  });
  // zod would trim this id: the fast path leaves it to zod rather than guess.
  assert.equal(fastReading({ machineId: ' m-017', ts: 1, values: { volt: 1 } }), undefined);
  assert.equal(fastReading({ machineId: 'm-017', ts: 1, values: { volt: 1 }, note: 'extra' }), undefined);
});
