import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_KEYS, ConfigError, loadConfig, parseDuration, unknownVariables } from '../../src/config';

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
  assert.throws(
    () => loadConfig({ PDM_WINDOW: 'many' }),
    (e: unknown) => e instanceof ConfigError && /PDM_WINDOW/.test(e.message),
  );
  assert.throws(() => loadConfig({ PDM_HORIZON: 'tomorrow' }), /PDM_HORIZON/);
  assert.throws(() => loadConfig({ PDM_KAFKA_BROKERS: 'nohostport' }), /PDM_KAFKA_BROKERS/);
  assert.throws(() => loadConfig({ PDM_TOPIC_ALERTS: 'bad topic!' }), /PDM_TOPIC_ALERTS/);
});

test('command-line overrides win over the environment', () => {
  assert.equal(loadConfig({ PDM_WINDOW: '10' }, { PDM_WINDOW: '12' }).model.window, 12);
});

test('the k-of-n alert rule: zero, negative, k > n, j > n and j > k are refused naming the variable', () => {
  const refused = (env: Record<string, string>, name: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && name.test(e.message),
    );
  refused({ PDM_ALERT_RAISE_K: '0' }, /PDM_ALERT_RAISE_K/);
  refused({ PDM_ALERT_WINDOW_N: '-2' }, /PDM_ALERT_WINDOW_N/);
  refused({ PDM_ALERT_CLEAR_J: '0' }, /PDM_ALERT_CLEAR_J/);
  refused({ PDM_ALERT_RAISE_K: '1.5' }, /PDM_ALERT_RAISE_K/);
  refused(
    { PDM_ALERT_RAISE_K: '4', PDM_ALERT_WINDOW_N: '3' },
    /PDM_ALERT_RAISE_K must be at most PDM_ALERT_WINDOW_N/,
  );
  refused(
    { PDM_ALERT_RAISE_K: '3', PDM_ALERT_WINDOW_N: '3', PDM_ALERT_CLEAR_J: '4' },
    /PDM_ALERT_CLEAR_J must be at most PDM_ALERT_WINDOW_N/,
  );
  refused(
    { PDM_ALERT_RAISE_K: '2', PDM_ALERT_WINDOW_N: '4', PDM_ALERT_CLEAR_J: '3' },
    /PDM_ALERT_CLEAR_J must be at most PDM_ALERT_RAISE_K/,
  );
  const c = loadConfig({
    PDM_ALERT_RAISE_K: '1',
    PDM_ALERT_WINDOW_N: '1',
    PDM_ALERT_CLEAR_J: '1',
    PDM_ALERT_COOLDOWN: '2h',
    PDM_ALERT_FLAP_MULTIPLE: '3',
  });
  assert.deepEqual(
    [c.alerts.raiseK, c.alerts.windowN, c.alerts.clearJ, c.alerts.flapWindowMs],
    [1, 1, 1, 6 * 3_600_000],
  );
});

test('every duration is bounded: timer-armed ones stay below the timer limit, zero session timeouts are refused', () => {
  const refused = (env: Record<string, string>, text: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && text.test(e.message),
    );
  refused({ PDM_SHUTDOWN_TIMEOUT: '30d' }, /PDM_SHUTDOWN_TIMEOUT.*between 1s and 1h/);
  refused({ PDM_MODEL_POLL_INTERVAL: '30d' }, /PDM_MODEL_POLL_INTERVAL.*between/);
  refused({ PDM_KAFKA_SESSION_TIMEOUT: '0' }, /PDM_KAFKA_SESSION_TIMEOUT.*between 6s and 30m/);
  refused({ PDM_SCORE_MAX_WAIT: '1h' }, /PDM_SCORE_MAX_WAIT/);
  assert.equal(loadConfig({ PDM_SHUTDOWN_TIMEOUT: '1h' }).shutdownTimeoutMs, 3_600_000);
});

test('numbers are read strictly: blank text is not zero', () => {
  assert.throws(() => loadConfig({ PDM_HTTP_PORT: '   ' }), /PDM_HTTP_PORT/);
  assert.throws(() => loadConfig({ PDM_ALERT_HYSTERESIS: ' ' }), /PDM_ALERT_HYSTERESIS/);
  assert.throws(() => loadConfig({ PDM_WINDOW: '0x10' }), /PDM_WINDOW/);
  assert.equal(loadConfig({ PDM_HTTP_PORT: ' 8080 ' }).http.port, 8080);
  assert.equal(loadConfig({ PDM_ALERT_HYSTERESIS: '.25' }).alerts.hysteresis, 0.25);
  // An empty value means "unset" (compose's ${VAR:-} idiom): the default applies.
  assert.equal(loadConfig({ PDM_HTTP_PORT: '' }).http.port, 9464);
});

test('a future skew beyond the allowed lateness is refused: it would turn on-time readings late', () => {
  assert.throws(
    () => loadConfig({ PDM_MAX_FUTURE_SKEW: '2h', PDM_ALLOWED_LATENESS: '1h' }),
    /PDM_MAX_FUTURE_SKEW.*at most PDM_ALLOWED_LATENESS/,
  );
  assert.equal(
    loadConfig({ PDM_MAX_FUTURE_SKEW: '1h', PDM_ALLOWED_LATENESS: '1h' }).maxFutureSkewMs,
    3_600_000,
  );
});

test('a configuration error never prints a secret, including a URL password with / or : in it', () => {
  for (const url of [
    'redis://user:s3cret@redis:6379/not-a-db',
    'redis://user:pa/ss@redis:6379',
    'rediss://:p:a#ss@redis:6379/x',
  ]) {
    assert.throws(
      () => loadConfig({ PDM_REDIS_URL: url, PDM_WINDOW: 'bad' }),
      (e: unknown) => e instanceof ConfigError && !/s3cret|pa\/ss|p:a#ss/.test(e.message),
    );
  }
  assert.throws(
    () => loadConfig({ PDM_REDIS_URL: 'redis://user:pa/ss@bad host' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /PDM_REDIS_URL/.test(e.message) &&
      !/pa\/ss/.test(e.message) &&
      /user:\*\*\*@/.test(e.message),
  );
});

test('a misspelt PDM_ variable is reported with the setting it most likely meant; tooling variables are not', () => {
  const found = unknownVariables(
    {
      PDM_WINDOWS: '12',
      PDM_ALERT_COOLDOWNN: '1h',
      PDM_KEEP_STACK: '1',
      PDM_SOMETHING_ELSE: 'x',
      HOME: '/root',
      PDM_WINDOW: '12',
    },
    CONFIG_KEYS,
  );
  assert.deepEqual(found, [
    { name: 'PDM_ALERT_COOLDOWNN', suggestion: 'PDM_ALERT_COOLDOWN' },
    { name: 'PDM_SOMETHING_ELSE', suggestion: undefined },
    { name: 'PDM_WINDOWS', suggestion: 'PDM_WINDOW' },
  ]);
});

test('the drift trigger is off by default, takes a PSI, and refuses anything else naming the variable', () => {
  assert.equal(loadConfig({}).training.retrainDriftPsi, undefined);
  assert.equal(loadConfig({ PDM_RETRAIN_DRIFT_PSI: 'off' }).training.retrainDriftPsi, undefined);
  assert.equal(loadConfig({ PDM_RETRAIN_DRIFT_PSI: '0.25' }).training.retrainDriftPsi, 0.25);
  for (const bad of ['high', '0', '11', '-1'])
    assert.throws(
      () => loadConfig({ PDM_RETRAIN_DRIFT_PSI: bad }),
      /PDM_RETRAIN_DRIFT_PSI.*'off' or a PSI between 0\.01 and 10/,
      bad,
    );
});
