import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLog, decodeReading } from '../../src/ingest';
import { fullPath } from '../../src/ingest/decode';
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

/**
 * Raw record texts for the whole decoder, built from JSON fragments so that what JSON.stringify cannot
 * write is covered too: 1e999, escaped keys, repeated keys, invalid UTF-8, Object.prototype member names.
 */
const ID_TEXT = ['"m-1"', '"m-1"', '" m-1"', '""', '"m\\u002d1"', '7', 'null'];
const TS_TEXT = ['1700000000000', '"2026-11-29T07:00:00Z"', '1e999', '-1', '"yesterday"', '1.5'];
const SENSOR_NAMES = [
  '"volt"',
  '"rotate"',
  '"__proto__"',
  '"constructor"',
  '"prototype"',
  '"toString"',
  '"hasOwnProperty"',
  '"valueOf"',
  '"__defineGetter__"',
  '"\\u005f_proto__"',
  '"proto\\u0074ype"',
  '"constructor_temp"',
  '""',
  '"\\u0000"',
];
const NUMBER_TEXT = ['171.2', '-2.5e-3', '0', '1e999', '-1e999', '"1"', 'null', '[1]', '{"a":1}'];
const EXTRA_TEXT = [
  '',
  '',
  '"note":"x"',
  '"__proto__":{"polluted":true}',
  '"constructor":{"prototype":{}}',
  '"extra":[1e999]',
  '"values":{"v":1}',
  '"values":{"__proto__":1}',
];

function rawReading(next: () => number): Buffer {
  const sensors = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
    const name = pick(next, SENSOR_NAMES);
    return `${name}:${pick(next, NUMBER_TEXT)}`;
  });
  const fields = [
    `"machineId":${pick(next, ID_TEXT)}`,
    `"ts":${pick(next, TS_TEXT)}`,
    `"values":{${sensors.join(',')}}`,
    pick(next, EXTRA_TEXT, 2),
  ].filter((f) => f !== '');
  // Shuffled, so a repeated key sometimes comes first and sometimes last (JSON.parse keeps the last).
  fields.sort(() => next() - 0.5);
  const text = `{${fields.join(',')}}`;
  const bytes = Buffer.from(text);
  // Sometimes a byte that is not UTF-8 (decoded as U+FFFD, as before), sometimes a cut-off text.
  const r = next();
  if (r < 0.05) return Buffer.concat([bytes.subarray(0, 14), Buffer.from([0xff]), bytes.subarray(14)]);
  if (r < 0.1) return bytes.subarray(0, Math.floor(next() * bytes.length));
  return bytes;
}

test('decodeReading answers exactly as the full path (key check, non-finite walk, zod) for every raw text', () => {
  const next = rng(151);
  const limits = { maxRecordBytes: 4096, maxFutureSkewMs: 60_000, now: () => 1.8e12, requireKey: true };
  const seen = new Map<string, number>();
  for (let i = 0; i < 6_000; i++) {
    const raw = rawReading(next);
    const key = next() < 0.9 ? 'm-1' : undefined;
    const fast = decodeReading(raw, key, limits);
    const full = fullPath.reading(raw, key, limits);
    assert.deepEqual(fast, full, raw.toString('latin1'));
    const outcome = fast.ok ? 'ok' : fast.code;
    seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
  }
  // Every outcome the generator aims at was produced, so the comparison covered each of them.
  for (const code of [
    'ok',
    'bad_json',
    'unsafe_key',
    'non_finite',
    'bad_shape',
    'missing_machine_id',
    'bad_ts',
  ])
    assert.ok((seen.get(code) ?? 0) >= 20, `${code}: ${seen.get(code) ?? 0} of 6000`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('decodeLog answers exactly as the full path for every raw text', () => {
  const next = rng(77);
  const limits = { maxRecordBytes: 4096, maxFutureSkewMs: 60_000, now: () => 1.8e12 };
  const TEXT = ['"error3 pressure drop"', '""', '5', '"a\\u0000b"', '{"__proto__":1}'];
  let ok = 0;
  for (let i = 0; i < 2_000; i++) {
    const fields = [
      `"machineId":${pick(next, ID_TEXT)}`,
      `"ts":${pick(next, TS_TEXT)}`,
      `"text":${pick(next, TEXT)}`,
      pick(next, EXTRA_TEXT.slice(0, 6), 2),
    ].filter((f) => f !== '');
    const raw = Buffer.from(`{${fields.join(',')}}`);
    const fast = decodeLog(raw, 'm-1', limits);
    assert.deepEqual(fast, fullPath.log(raw, 'm-1', limits), raw.toString());
    if (fast.ok) ok++;
  }
  assert.ok(ok >= 100, `only ${ok} logs decoded`);
});

test('a reading with an unsafe sensor name is never taken by the fast check', () => {
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    const doc = JSON.parse(`{"machineId":"m-1","ts":1,"values":{"${name}":1}}`) as unknown;
    assert.equal(fastReading(doc), undefined, name);
  }
  // Object.prototype's other member names are plain sensor names, for the fast check as for zod.
  assert.deepEqual(fastReading(JSON.parse('{"machineId":"m-1","ts":1,"values":{"toString":1}}')), {
    machineId: 'm-1',
    ts: 1,
    values: { toString: 1 },
  });
});
