import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import type { Config } from '../src/config';
import { createFleet } from '../src/simulate';
import type { TopicSnapshot } from '../src/train/source';

/** A model small enough that integration tests train and score it in moments. */
export const SMALL_MODEL: Readonly<Record<string, string>> = {
  PDM_WINDOW: '4',
  PDM_LSTM_UNITS: '4',
  PDM_TEXT_LSTM_UNITS: '4',
  PDM_DENSE_UNITS: '4',
  PDM_TEXT_MAX_LEN: '8',
  PDM_VOCAB_SIZE: '50',
};

/**
 * The environment of an isolated test: its own topics, group id and Redis key prefix under `tag`, so
 * integration tests never collide. Child processes (`pdm demo`, workers) get it as their environment.
 */
export function testEnv(
  overrides: Record<string, string> = {},
  tag = `t${randomUUID().slice(0, 8)}`,
): Record<string, string> {
  return {
    PDM_GROUP_ID: `${tag}-group`,
    PDM_REDIS_PREFIX: `${tag}:`,
    PDM_TOPIC_READINGS: `${tag}.readings`,
    PDM_TOPIC_LOGS: `${tag}.logs`,
    PDM_TOPIC_FAILURES: `${tag}.failures`,
    PDM_TOPIC_ALERTS: `${tag}.alerts`,
    PDM_TOPIC_DLQ: `${tag}.dlq`,
    ...overrides,
  };
}

/** A test's PDM_* (testEnv with an ephemeral HTTP port and quiet logs, then `overrides`) and the config they give. */
export function testSetup(
  overrides: Record<string, string> = {},
  tag?: string,
): { env: Record<string, string>; config: Config } {
  const env = testEnv({ PDM_HTTP_PORT: '0', PDM_LOG_LEVEL: 'warn', ...overrides }, tag);
  return { env, config: loadConfig(process.env, env) };
}

/** A config over testEnv, with an ephemeral HTTP port and quiet logs. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return testSetup(overrides).config;
}

/** Shutdown regressions show up as hung promises: every close in a test goes through this. */
export async function withTimeout<T>(what: string, promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Deletes a test's topics, consumer group and Redis keys (everything testConfig gave it). */
export async function dropTestResources(config: Config): Promise<void> {
  const { createKafka } = await import('../src/kafka/client');
  const { createRedis } = await import('../src/redis/client');
  // Few retries: cleanup must not wait out kafkajs's full backoff (about a minute) on a group still rebalancing.
  const admin = createKafka(config).admin({ retry: { retries: 1, initialRetryTime: 200 } });
  await admin.connect();
  const t = config.topics;
  await admin
    .deleteTopics({
      topics: [t.readings, t.logs, t.failures, t.alerts, t.dlq, ...(t.scores ? [t.scores] : [])],
    })
    .catch(() => undefined);
  await admin.deleteGroups([config.kafka.groupId]).catch(() => undefined);
  await admin.disconnect();
  const redis = createRedis(config);
  const keys = await redis.keys(`${config.redis.prefix}*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  await withTimeout('redis quit', redis.quit());
}

/** A simulated fleet as a training snapshot (what `pdm train --once` would read from the topics). */
export function fleetSnapshot(opts: {
  machines: number;
  days: number;
  seed: number;
  mtbfMs?: number;
}): TopicSnapshot {
  const fleet = createFleet({
    machines: opts.machines,
    seed: opts.seed,
    start: '2026-01-01T00:00:00Z',
    ...(opts.mtbfMs ? { mtbfMs: opts.mtbfMs } : {}),
  });
  const s: TopicSnapshot = { readings: [], logs: [], failures: [], invalid: {} };
  for (let i = 0; i < opts.days * 24; i++) {
    const t = fleet.tick();
    for (const r of t.readings)
      s.readings.push({ machineId: r.machineId, ts: Date.parse(r.ts), values: r.values });
    for (const l of t.logs) s.logs.push({ machineId: l.machineId, ts: Date.parse(l.ts), text: l.text });
    for (const f of t.failures)
      s.failures.push({ machineId: f.machineId, ts: Date.parse(f.ts), component: f.component });
  }
  return s;
}
