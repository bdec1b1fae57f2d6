import assert from 'node:assert/strict';
import { test } from 'node:test';
import type Redis from 'ioredis';
import { ConfigError } from '../../src/errors';
import type { Failure, LogEntry, Reading } from '../../src/ingest';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { buildWindows } from '../../src/train/dataset';
import { readWithTrainStore, TrainStore } from '../../src/train/store';
import { dropTestResources, testConfig, withTimeout } from '../helpers';
import { deflateRawSync } from 'node:zlib';
import { decodeMachine, encodeMachineRaw } from '../../src/train/store-codec';
import { H, hourSpec, withoutCounts } from './store-spec';

const spec = hourSpec(4, 3, 6, 6);
const logger = createLogger('error');

/** Bytes the store's hash really takes as values and field names in Redis. */
async function storedBytes(redis: Redis, key: string): Promise<number> {
  const all = await redis.hgetallBuffer(key);
  return Object.entries(all).reduce((n, [field, body]) => n + field.length + body.length, 0);
}

/** Values that deflate cannot shrink much, like real sensor noise. */
const noise = (a: number, b: number) => {
  const x = Math.sin(a * 12.9898 + b * 78.233) * 43_758.5453;
  return x - Math.floor(x);
};

/** Hourly readings of `machines` machines for hours [from, to); machine m-0 floods 20 readings an hour. */
function fleet(machines: number, from: number, to: number) {
  const readings: Reading[] = [];
  const logs: LogEntry[] = [];
  const failures: Failure[] = [];
  for (let m = 0; m < machines; m++) {
    const machineId = `m-${m}`;
    const step = m === 0 ? 0.05 : 1;
    for (let h = from; h < to; h += step)
      readings.push({ machineId, ts: Math.round(h * H), values: { v: noise(h, m), w: noise(m, h) } });
    for (let h = from; h < to; h++) {
      if ((h + m) % 17 === 0) logs.push({ machineId, ts: h * H + 1, text: `error${h % 5} pump` });
      if (m > 0 && (h + 3 * m) % 240 === 0) failures.push({ machineId, ts: h * H + 2, component: undefined });
    }
  }
  return { readings, logs, failures };
}

test('the byte budget holds under ten times more data than it holds; restarts lose nothing; near-failure windows and per-machine shares survive', async () => {
  const config = testConfig();
  const redis = createRedis(config);
  const key = `${config.redis.prefix}train:store`;
  const budget = 24 * 1024;
  const all = { readings: [] as Reading[], logs: [] as LogEntry[], failures: [] as Failure[] };
  try {
    for (let round = 0; round < 10; round++) {
      // A new store object per round: what a restarted trainer does.
      const store = new TrainStore(redis, key, spec, budget, logger);
      await store.load();
      const fresh = fleet(12, round * 120, (round + 1) * 120);
      store.add(fresh);
      store.enforceBudget({ 'readings/0': round + 1 });
      await store.save();
      all.readings.push(...fresh.readings);
      all.logs.push(...fresh.logs);
      all.failures.push(...fresh.failures);
      assert.ok(
        (await storedBytes(redis, key)) <= budget,
        `round ${round}: ${await storedBytes(redis, key)} bytes`,
      );
    }
    const unboundedStore = new TrainStore(redis, `${key}:unbounded`, spec, 2 ** 40, logger);
    await unboundedStore.load();
    unboundedStore.add(all);
    unboundedStore.enforceBudget({});
    await unboundedStore.save();
    const unbounded = await storedBytes(redis, `${key}:unbounded`);
    assert.ok(unbounded >= 10 * budget, `written ${unbounded} bytes, not ten times ${budget}`);
    const reloaded = new TrainStore(redis, key, spec, budget, logger);
    assert.deepEqual(await reloaded.load(), { 'readings/0': 10 });
    const report = reloaded.report();
    assert.ok(report.bytes <= budget);
    // Every positive window of the full history is kept (they are near a failure).
    const full = buildWindows(all.readings, all.logs, all.failures, spec);
    const positives = (ws: readonly { machineId: string; endTs: number; label: number }[]) =>
      ws.filter((w) => w.label === 1).map((w) => `${w.machineId}@${w.endTs}`);
    const { windows } = reloaded.windows();
    assert.deepEqual(positives(windows).sort(), positives(full.windows).sort());
    // The flooding machine gets no bigger reservoir than the others, and every machine keeps one.
    const samples = new Map<string, number>();
    for (const w of windows)
      samples.set(w.machineId, (samples.get(w.machineId) ?? 0) + (w.label === 0 ? 1 : 0));
    const others = [...samples].filter(([id]) => id !== 'm-0').map(([, n]) => n);
    assert.equal(samples.size, 12);
    assert.ok(Math.min(...others) > 0);
    assert.ok(report.dropped.sample === 0 || report.caps.sample !== null);
  } finally {
    redis.disconnect();
    await dropTestResources(config);
  }
});

/** Positive windows (a failure follows within the horizon) per machine, as `machine@end`. */
const positivesOf = (
  ws: readonly { machineId: string; endTs: number; label: number }[],
  keep = (_id: string) => true,
) =>
  ws
    .filter((w) => w.label === 1 && keep(w.machineId))
    .map((w) => `${w.machineId}@${w.endTs}`)
    .sort();

for (const nearShare of [1, 0.5])
  test(`near share ${nearShare}: a machine that floods readings and fails every few hours cannot evict the others’ near-failure windows; it keeps its newest failures`, async () => {
    const config = testConfig();
    const redis = createRedis(config);
    const key = `${config.redis.prefix}train:store`;
    const budget = 32 * 1024;
    const all = { readings: [] as Reading[], logs: [] as LogEntry[], failures: [] as Failure[] };
    let dropped = 0;
    try {
      for (let round = 0; round < 5; round++) {
        const store = new TrainStore(redis, key, { ...spec, nearShare }, budget, logger);
        await store.load();
        const fresh = fleet(12, round * 120, (round + 1) * 120);
        // m-0 (20 readings an hour) also fails every 10 hours: near windows cover its whole stream.
        for (let h = round * 120 + 5; h < (round + 1) * 120; h += 10)
          fresh.failures.push({ machineId: 'm-0', ts: h * H + 2, component: undefined });
        store.add(fresh);
        store.enforceBudget({});
        await store.save();
        dropped += store.report().dropped.near;
        all.readings.push(...fresh.readings);
        all.logs.push(...fresh.logs);
        all.failures.push(...fresh.failures);
        assert.ok((await storedBytes(redis, key)) <= budget, `round ${round}: over the budget`);
      }
      const reloaded = new TrainStore(redis, key, { ...spec, nearShare }, budget, logger);
      await reloaded.load();
      assert.ok(dropped > 0, 'the near windows had to be capped');
      const full = buildWindows(all.readings, all.logs, all.failures, spec).windows;
      const { windows } = reloaded.windows();
      const others = (id: string) => id !== 'm-0';
      // Every other machine keeps every positive window, and its other near windows too.
      assert.deepEqual(positivesOf(windows, others), positivesOf(full, others));
      const nearOf = (ws: readonly { machineId: string; endTs: number }[], id: string) =>
        ws.filter(
          (w) =>
            w.machineId === id &&
            all.failures.some((f) => f.machineId === id && Math.abs(f.ts - w.endTs) <= spec.nearMs),
        ).length;
      for (let m = 1; m < 12; m++) assert.equal(nearOf(windows, `m-${m}`), nearOf(full, `m-${m}`), `m-${m}`);
      // The flooder gives up positives, the oldest first.
      const flooder = positivesOf(windows, (id) => id === 'm-0');
      const flooderAll = positivesOf(full, (id) => id === 'm-0');
      assert.ok(flooder.length > 0 && flooder.length < flooderAll.length);
      const endOf = (p: string) => Number(p.slice(p.indexOf('@') + 1));
      const newest = flooderAll
        .map(endOf)
        .sort((a, b) => b - a)
        .slice(0, flooder.length);
      assert.deepEqual(
        flooder.map(endOf).sort((a, b) => b - a),
        newest,
      );
      // With a near share below 1 the others' reservoirs are not starved either: each keeps windows far from
      // any failure.
      for (let m = 1; m < 12 && nearShare < 1; m++)
        assert.ok(
          windows.filter((w) => w.machineId === `m-${m}`).length > nearOf(full, `m-${m}`),
          `m-${m} has reservoir windows`,
        );
    } finally {
      redis.disconnect();
      await dropTestResources(config);
    }
  });

test('a store written before the reservoir counts loads with one warning, weighs its reservoir 1 and is rewritten with counts', async () => {
  const config = testConfig();
  const redis = createRedis(config);
  const key = `${config.redis.prefix}train:store`;
  const warnings: string[] = [];
  const capture = createLogger('warn', {}, (line) => warnings.push(line));
  try {
    const first = new TrainStore(redis, key, spec, 24 * 1024, logger);
    await first.load();
    first.add(fleet(6, 0, 600));
    first.enforceBudget({});
    await first.save();
    const weighted = first.windows().windows.filter((w) => (w.weight ?? 1) > 1);
    assert.ok(weighted.length > 0, 'the budget binds: some reservoir windows stand for more');
    // Rewrite every record as the previous version wrote it.
    for (const [field, body] of Object.entries(await redis.hgetallBuffer(key))) {
      if (field === 'meta') continue;
      const old = withoutCounts(encodeMachineRaw(decodeMachine(body)));
      await redis.hset(key, field, Buffer.concat([Buffer.from('PDZ1'), deflateRawSync(old)]));
    }
    const upgraded = new TrainStore(redis, key, spec, 24 * 1024, capture);
    await upgraded.load();
    assert.equal(warnings.filter((l) => l.includes('without reservoir counts')).length, 1);
    assert.ok(upgraded.windows().windows.every((w) => (w.weight ?? 1) === 1));
    upgraded.enforceBudget({});
    await upgraded.save();
    const again = new TrainStore(redis, key, spec, 24 * 1024, capture);
    await again.load();
    assert.equal(warnings.length, 1, 'rewritten with the counts: no second warning');
  } finally {
    redis.disconnect();
    await dropTestResources(config);
  }
});

test('a budget too small for the undecided windows is refused with the smallest one that works', async () => {
  const config = testConfig();
  const redis = createRedis(config);
  const key = `${config.redis.prefix}train:store`;
  try {
    const store = new TrainStore(redis, key, spec, 2_000, logger);
    await store.load();
    store.add(fleet(20, 0, 48));
    let minimum = 0;
    assert.throws(
      () => store.enforceBudget({}),
      (e: unknown) => {
        const match = /(\d+) bytes, the smallest budget that works/.exec((e as Error).message);
        minimum = Number(match?.[1]);
        return (
          e instanceof ConfigError &&
          (e as Error).message.includes('PDM_TRAIN_STORE_BYTES=2000') &&
          minimum > 2_000
        );
      },
    );
    const enough = new TrainStore(redis, key, spec, minimum, logger);
    await enough.load();
    enough.add(fleet(20, 0, 48));
    enough.enforceBudget({});
    await enough.save();
    assert.ok((await storedBytes(redis, key)) <= minimum);
  } finally {
    redis.disconnect();
    await dropTestResources(config);
  }
});

test('a round reads only what arrived since the stored offsets, and the store outlives the topic', async () => {
  const config = testConfig({ PDM_WINDOW: '4', PDM_HORIZON: '3h' });
  await createTopics(config, { partitions: 2, replication: 1 });
  const producer = createKafka(config).producer();
  await producer.connect();
  const redis = createRedis(config);
  const send = (from: number, to: number) =>
    producer.send({
      topic: config.topics.readings,
      messages: Array.from({ length: to - from }, (_, i) => ({
        key: `m-${i % 3}`,
        value: JSON.stringify({ machineId: `m-${i % 3}`, ts: (from + i) * H, values: { v: 1 } }),
      })),
    });
  try {
    await send(0, 30);
    const first = await readWithTrainStore(config, logger, redis);
    assert.equal(first.report.readings, 30);
    await send(30, 60);
    const second = await readWithTrainStore(config, logger, redis);
    assert.equal(second.report.readings, 60);
    assert.equal(second.built.summary.readings, 60, 'the first round’s readings came from the store');
    // Each machine: 20 readings, 17 windows of 4; the last 3 h of each are censored.
    assert.equal(second.built.windows.length + second.built.summary.windows.censored, 3 * 17);
  } finally {
    await withTimeout('producer disconnect', producer.disconnect());
    redis.disconnect();
    await dropTestResources(config);
  }
});
