import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config';

test('defaults follow docs/configuration.md', () => {
  const c = loadConfig({});
  assert.deepEqual(c.kafka.brokers, ['localhost:9092']);
  assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(c.model.window, 24);
  assert.equal(c.model.textMaxLen, 50);
  assert.equal(c.model.vocabSize, 1000);
  assert.equal(c.http.port, 9464);
  assert.equal(c.topics.scores, undefined);
  assert.equal(c.startFrom, 'earliest');
  assert.ok(Object.isFrozen(c));
});

test('durations convert once, at boot', () => {
  assert.equal(parseDuration('30h'), 30 * 3_600_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(loadConfig({ PDM_HORIZON: '7d' }).horizonMs, 7 * 86_400_000);
  assert.throws(() => parseDuration('soon'), RangeError);
});

test('a bad value stops with a message naming the variable', () => {
  assert.throws(() => loadConfig({ PDM_WINDOW: 'many' }), (e: unknown) => e instanceof ConfigError && /PDM_WINDOW/.test(e.message));
  assert.throws(() => loadConfig({ PDM_HORIZON: 'tomorrow' }), /PDM_HORIZON/);
  assert.throws(() => loadConfig({ PDM_KAFKA_BROKERS: 'nohostport' }), /PDM_KAFKA_BROKERS/);
  assert.throws(() => loadConfig({ PDM_TOPIC_ALERTS: 'bad topic!' }), /PDM_TOPIC_ALERTS/);
});

test('command-line overrides win over the environment', () => {
  assert.equal(loadConfig({ PDM_WINDOW: '10' }, { PDM_WINDOW: '12' }).model.window, 12);
});
