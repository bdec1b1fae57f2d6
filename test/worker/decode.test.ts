import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import { decodeBatch } from '../../src/worker/decode';

const limits = { maxRecordBytes: 1024, maxFutureSkewMs: 60_000, now: () => 1.8e12, requireKey: true };
const value = (machineId: string) =>
  Buffer.from(JSON.stringify({ machineId, ts: 1_700_000_000_000, values: { volt: 1 } }));

test('a key is refused exactly when it is not UTF-8, ASCII or not', async () => {
  const keys = [
    Buffer.from('m-1'),
    Buffer.from('ünï-7'),
    Buffer.from([0x6d, 0xff]),
    Buffer.from([0x6d, 0xfe]),
    Buffer.from([0x6d, 0xc3]), // a two-byte sequence cut short
    Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate, not allowed in UTF-8
    Buffer.from([0xc0, 0xaf]), // an overlong "/"
  ];
  // And random bytes, mostly ASCII with now and then a high byte.
  let s = 7;
  for (let i = 0; i < 500; i++)
    keys.push(
      Buffer.from(
        Array.from({ length: 1 + (i % 6) }, () => {
          s = (s * 1_664_525 + 1_013_904_223) >>> 0;
          return s % 5 === 0 ? 0x80 + ((s >>> 8) % 128) : 0x21 + ((s >>> 8) % 90);
        }),
      ),
    );
  const decoded = await decodeBatch(
    keys.map((key) => ({ key, value: value(key.toString()) })),
    'readings',
    limits,
  );
  decoded.forEach((d, i) => {
    const key = keys[i]!;
    if (!isUtf8(key)) assert.ok(!d.ok && d.code === 'bad_key', key.toString('hex'));
    else assert.ok(d.ok || d.code !== 'bad_key', key.toString('hex'));
  });
  assert.ok(decoded[0]!.ok && decoded[1]!.ok, 'ASCII and UTF-8 keys equal to the machineId decode');
  assert.equal(
    decoded.filter((d) => !d.ok && d.code === 'bad_key').length,
    keys.filter((k) => !isUtf8(k)).length,
  );
});
