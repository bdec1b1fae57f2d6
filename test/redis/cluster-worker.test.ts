/**
 * `pdm worker` on a real Redis Cluster (PDM_REDIS_CLUSTER, three masters started here): it loads the
 * model from the cluster's registry, scores, checkpoints, and a restarted worker resumes from those
 * checkpoints (it scores the very next reading, with no window to refill).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import type { RedisClient } from '../../src/redis/client';
import { CheckpointStore } from '../../src/state';
import { machineView, Worker } from '../../src/worker';
import { dropTestResources, eventually, testConfig, withTimeout } from '../helpers';
import { useRedisCluster } from './fixtures';
import { knownScore, registerKnownModel } from '../known-model';

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const MACHINES = ['m-0', 'm-1', 'm-2'];
const value = (m: number, h: number) => 0.2 + 0.3 * m + 0.1 * h;

const fixture = useRedisCluster(1);
let config: Config;
let redis: RedisClient;

before(async () => {
  ({ config, redis } = await fixture());
  await createTopics(config, { partitions: 2, replication: 1 });
});

after(async () => {
  // Topics and group on the shared broker (its Redis holds no key of this test: they go with the cluster).
  await dropTestResources({
    ...config,
    redis: { ...config.redis, url: testConfig().redis.url, cluster: undefined },
  });
});

async function sendHours(from: number, to: number): Promise<void> {
  const producer = createKafka(config).producer();
  await producer.connect();
  const messages = MACHINES.flatMap((id, m) =>
    Array.from({ length: to - from }, (_, i) => ({
      key: id,
      value: JSON.stringify({ machineId: id, ts: T0 + (from + i) * H, values: { v: value(m, from + i) } }),
    })),
  );
  await producer.send({ topic: config.topics.readings, messages });
  await producer.disconnect();
}

async function scoredAt(worker: Worker, hour: number): Promise<boolean> {
  for (const id of MACHINES) {
    const view = await machineView(worker.view, id);
    if (view?.scoredTs !== new Date(T0 + hour * H).toISOString()) return false;
  }
  return true;
}

test('a worker scores and checkpoints on the cluster; a restarted one resumes from the checkpoints', async () => {
  const meta = await registerKnownModel(redis, config, { threshold: 0.5 });
  const newWorker = () =>
    new Worker(config, createLogger('warn', { test: 'cluster-worker' }), createMetrics(undefined, false));
  const first = newWorker();
  await first.start();
  try {
    await sendHours(0, 5);
    await eventually('hour 4 scored', () => scoredAt(first, 4), 60_000);
  } finally {
    await withTimeout('worker stop', first.stop(), 30_000);
  }
  const saved = await new CheckpointStore(redis, config.redis.prefix).load(MACHINES);
  assert.equal(saved.size, MACHINES.length, 'a checkpoint per machine, on the cluster');
  for (const [m, id] of MACHINES.entries()) {
    const state = saved.get(id)!;
    assert.equal(state.readings.length, config.model.window);
    assert.equal(state.lastScore?.modelVersion, meta.version);
    assert.ok(
      Math.abs(state.lastScore.score - knownScore(value(m, 4))) < 1e-4,
      `${id} scored the known function`,
    );
  }
  const second = newWorker();
  await second.start();
  try {
    // One reading each: only a restored window (three readings already held) makes it scorable.
    await sendHours(5, 6);
    await eventually('hour 5 scored after the restart', () => scoredAt(second, 5), 60_000);
    const view = await machineView(second.view, 'm-2');
    assert.ok(Math.abs(view!.score! - knownScore(value(2, 5))) < 1e-4);
  } finally {
    await withTimeout('second worker stop', second.stop(), 30_000);
  }
});
