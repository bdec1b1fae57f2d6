import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, StaleModelError } from '../../src/errors';
import { retry } from '../../src/retry';

test('retries transient failures with backoff until success', async () => {
  let calls = 0;
  const result = await retry(
    async () => {
      if (++calls < 4) throw new Error('transient');
      return 'ok';
    },
    { initialMs: 1, maxDelayMs: 5 },
  );
  assert.equal(result, 'ok');
  assert.equal(calls, 4);
});

test('never retries programmer errors; stops when keepGoing says so or the signal aborts', async () => {
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new TypeError('bug');
    }),
    TypeError,
  );
  assert.equal(calls, 1);
  let n = 0;
  await assert.rejects(
    retry(
      async () => {
        n++;
        throw new Error('down');
      },
      { initialMs: 1, keepGoing: () => n < 3 },
    ),
    /down/,
  );
  assert.equal(n, 3);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(
    retry(
      async () => {
        throw new Error('still down');
      },
      { initialMs: 5, maxDelayMs: 5, signal: ac.signal },
    ),
    /still down/,
  );
});

test('honours the retriable flag: ours and any library error that carries one', async () => {
  let calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new ConfigError('PDM_WINDOW: bad');
      },
      { initialMs: 1 },
    ),
    ConfigError,
  );
  assert.equal(calls, 1);
  let stale = 0;
  const result = await retry(
    async () => {
      if (++stale < 3) throw new StaleModelError('swapped');
      return 'scored';
    },
    { initialMs: 1, maxDelayMs: 2 },
  );
  assert.equal(result, 'scored');
  assert.equal(stale, 3);
  let foreign = 0;
  await assert.rejects(
    retry(
      async () => {
        foreign++;
        throw Object.assign(new Error('not leader'), { retriable: false });
      },
      { initialMs: 1 },
    ),
    /not leader/,
  );
  assert.equal(foreign, 1);
});
