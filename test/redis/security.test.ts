import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { disposeModel } from '../../src/model/tf';
import { ModelRegistry } from '../../src/registry';
import { registerKnownModel, TINY_MODEL_ENV } from '../known-model';
import { eventually } from '../helpers';

const PORT = 26_000 + Math.floor(Math.random() * 2_000);
const PREFIX = 'pdmsec:';
let server: ChildProcess;

before(async () => {
  // A real Redis with the default user disabled and one ACL user limited to the project's key prefix.
  server = spawn(
    'redis-server',
    [
      '--port',
      String(PORT),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--user',
      'default',
      'off',
      '--user',
      'pdm',
      'on',
      '>s3cret-pw',
      `~${PREFIX}*`,
      '+@all',
      '-@dangerous',
      '+info',
    ],
    { stdio: 'ignore' },
  );
  await eventually(
    'password redis up',
    async () => {
      const probe = createRedis(loadConfig({ PDM_REDIS_URL: `redis://pdm:s3cret-pw@127.0.0.1:${PORT}` }), {
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    10_000,
  );
});
after(() => {
  server.kill('SIGKILL');
});

test('the registry works through an ACL user limited to the key prefix; other keys and no password are refused', async () => {
  const config = loadConfig({
    PDM_REDIS_URL: `redis://127.0.0.1:${PORT}`,
    PDM_REDIS_USERNAME: 'pdm',
    PDM_REDIS_PASSWORD: 's3cret-pw',
    PDM_REDIS_PREFIX: PREFIX,
    ...TINY_MODEL_ENV,
  });
  const redis = createRedis(config);
  try {
    const meta = await registerKnownModel(redis, config);
    const loaded = await new ModelRegistry(redis, PREFIX).load(meta.version);
    assert.equal(loaded.meta.version, meta.version);
    disposeModel(loaded.model);
    await assert.rejects(redis.set('outside:key', '1'), /NOPERM/);
  } finally {
    redis.disconnect();
  }
  const anonymous = createRedis(loadConfig({ PDM_REDIS_URL: `redis://127.0.0.1:${PORT}` }), {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  anonymous.on('error', () => undefined);
  await assert.rejects(anonymous.get(`${PREFIX}x`), /NOAUTH|NOPERM|WRONGPASS|auth/i);
  anonymous.disconnect();
});

test('disabling TLS verification is refused unless forced', () => {
  assert.throws(
    () => loadConfig({ PDM_KAFKA_TLS: 'true', PDM_KAFKA_TLS_REJECT_UNAUTHORIZED: 'false' }),
    (e: unknown) => e instanceof ConfigError && /PDM_ALLOW_INSECURE_TLS/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ PDM_REDIS_URL: 'rediss://r:6380', PDM_REDIS_TLS_REJECT_UNAUTHORIZED: 'false' }),
    /PDM_ALLOW_INSECURE_TLS/,
  );
  assert.equal(
    loadConfig({
      PDM_KAFKA_TLS: 'true',
      PDM_KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
      PDM_ALLOW_INSECURE_TLS: 'true',
    }).kafka.tls.rejectUnauthorized,
    false,
  );
  assert.throws(
    () => loadConfig({ PDM_KAFKA_SASL_MECHANISM: 'scram-sha-512', PDM_KAFKA_SASL_USERNAME: 'u' }),
    /PDM_KAFKA_SASL_PASSWORD/,
  );
  const sasl = loadConfig({
    PDM_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    PDM_KAFKA_SASL_USERNAME: 'u',
    PDM_KAFKA_SASL_PASSWORD: 'p',
  }).kafka.sasl;
  assert.deepEqual(sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
});

test('secrets never reach a log line or a config error', () => {
  const lines: string[] = [];
  const logger = createLogger('info', {}, (l) => lines.push(l));
  logger.info('connecting', {
    url: 'redis://pdm:s3cret-pw@10.0.0.1:6379/0',
    password: 's3cret-pw',
    nested: { saslPassword: 's3cret-pw' },
  });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes('s3cret-pw'), lines[0]);
  assert.throws(
    () => loadConfig({ PDM_KAFKA_SASL_MECHANISM: 'nope', PDM_KAFKA_SASL_PASSWORD: 's3cret-pw' }),
    (e: unknown) => e instanceof Error && !e.message.includes('s3cret-pw'),
  );
});
