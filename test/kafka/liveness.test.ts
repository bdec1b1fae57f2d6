import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Consumer } from 'kafkajs';
import { watchConsumer } from '../../src/kafka/liveness';
import { createLogger } from '../../src/log';

/** The consumer's instrumentation events only (pure logic: what the events mean for /healthz and /readyz). */
function fakeConsumer() {
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  const events = {
    GROUP_JOIN: 'join',
    HEARTBEAT: 'hb',
    FETCH: 'fetch',
    REBALANCING: 'rebalancing',
    CRASH: 'crash',
  };
  const consumer = {
    events,
    on: (name: string, fn: (e: { payload: unknown }) => void) => void handlers.set(name, fn),
  } as unknown as Consumer;
  const emit = (name: keyof typeof events, payload: unknown = {}) => handlers.get(events[name])!({ payload });
  return { consumer, emit };
}

test('a consumer is ready only in its group with recent broker contact, and unhealthy once dead for good', () => {
  let now = 0;
  const { consumer, emit } = fakeConsumer();
  const live = watchConsumer(consumer, 30_000, createLogger('error'), () => now);
  assert.deepEqual(live.reasons(), ['consumer not in its group']);
  emit('GROUP_JOIN');
  assert.deepEqual(live.reasons(), []);
  now = 31_000;
  assert.match(live.reasons()[0] ?? '', /no heartbeat or fetch/);
  emit('HEARTBEAT');
  assert.deepEqual(live.reasons(), []);
  emit('REBALANCING');
  assert.deepEqual(live.reasons(), ['consumer not in its group']);
  emit('GROUP_JOIN');
  emit('CRASH', { error: new Error('coordinator gone'), restart: true });
  assert.equal(live.healthy(), true, 'kafkajs restarts it: still healthy, not ready');
  assert.deepEqual(live.reasons(), ['consumer not in its group']);
  emit('CRASH', { error: new Error('not authorised'), restart: false });
  assert.equal(live.healthy(), false);
  assert.match(live.reasons()[0] ?? '', /crashed and will not restart: not authorised/);
});
