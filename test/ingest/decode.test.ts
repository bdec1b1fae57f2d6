import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFailure, decodeLog, decodeReading } from '../../src/ingest';

const NOW = Date.parse('2026-11-29T08:00:00Z');
const limits = { maxRecordBytes: 1024, maxFutureSkewMs: 5 * 60_000, now: () => NOW };
const buf = (s: string) => Buffer.from(s);
const reading = (over: Record<string, unknown> = {}) =>
  buf(JSON.stringify({ machineId: 'm-1', ts: '2026-11-29T07:00:00Z', values: { volt: 170.5 }, ...over }));

function code(raw: Buffer | null, key?: string): string {
  const d = decodeReading(raw, key, limits);
  return d.ok ? 'ok' : d.code;
}

test('a valid reading decodes with ts in epoch ms, ISO or number', () => {
  const d = decodeReading(reading(), 'm-1', limits);
  assert.ok(d.ok);
  assert.equal(d.value.ts, Date.parse('2026-11-29T07:00:00Z'));
  const n = decodeReading(reading({ ts: 1_700_000_000_000 }), 'm-1', limits);
  assert.ok(n.ok && n.value.ts === 1_700_000_000_000);
});

test('each kind of poison record gets its reason code', () => {
  assert.equal(code(buf('{not json')), 'bad_json');
  assert.equal(code(null), 'bad_json');
  assert.equal(code(reading({ values: { volt: 'high' } })), 'bad_shape');
  assert.equal(code(buf('{"machineId":"m-1","ts":1700000000000,"values":{"volt":1e999}}')), 'non_finite');
  assert.equal(code(buf('{"machineId":"m-1","ts":1700000000000,"values":{"volt":-1e999}}')), 'non_finite');
  assert.equal(code(reading({ machineId: '' })), 'missing_machine_id');
  assert.equal(code(reading({ machineId: undefined })), 'missing_machine_id');
  assert.equal(code(reading({ ts: 'yesterday' })), 'bad_ts');
  assert.equal(code(reading({ ts: '2026-13-45T99:00:00Z' })), 'bad_ts');
  assert.equal(code(reading({ ts: '2026-11-29T09:00:00Z' })), 'future');
  assert.equal(
    code(buf(JSON.stringify({ machineId: 'm-1', ts: 1, values: { volt: 1 }, pad: 'x'.repeat(2000) }))),
    'oversize',
  );
  assert.equal(
    code(buf('{"machineId":"m-1","ts":1,"values":{"volt":1},"__proto__":{"polluted":true}}')),
    'unsafe_key',
  );
  assert.equal(code(buf('{"machineId":"m-1","ts":1,"values":{"constructor":1}}')), 'unsafe_key');
  // Spelt with an escape, the key is still caught (the cheap parse is only for texts without one).
  assert.equal(code(buf('{"machineId":"m-1","ts":1,"values":{"\\u005f_proto__":1}}')), 'unsafe_key');
  assert.equal(code(buf('{"machineId":"m-1","ts":1,"values":{"v":1},"extra":[1e999]}')), 'non_finite');
  assert.equal(code(reading({ values: {} })), 'bad_shape');
  assert.equal(code(reading(), 'm-2'), 'key_mismatch');
  const keyless = decodeReading(reading(), undefined, { ...limits, requireKey: true });
  assert.ok(!keyless.ok && keyless.code === 'key_mismatch' && /no key/.test(keyless.message));
  assert.ok(decodeReading(reading(), undefined, limits).ok, 'training reads keyless records');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('logs and failures validate their own shapes', () => {
  assert.ok(
    decodeLog(buf(JSON.stringify({ machineId: 'm-1', ts: 5, text: 'error3 pressure drop' })), 'm-1', limits)
      .ok,
  );
  const bad = decodeLog(buf(JSON.stringify({ machineId: 'm-1', ts: 5, text: 42 })), 'm-1', limits);
  assert.ok(!bad.ok && bad.code === 'bad_shape');
  const f = decodeFailure(buf(JSON.stringify({ machineId: 'm-1', ts: 5 })), undefined, limits);
  assert.ok(f.ok && f.value.component === undefined);
});
