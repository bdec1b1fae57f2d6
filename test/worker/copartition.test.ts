import assert from 'node:assert/strict';
import { test } from 'node:test';
import Redis from 'ioredis';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { machineView, Worker } from '../../src/worker';
import { dropTestResources, eventually, testConfig, withTimeout } from '../helpers';

const H = 3_600_000;
const T0 = Date.parse('2026-02-01T00:00:00Z');

test('two workers over 4 partitions: each machine’s readings and logs go to the same worker, before and after a rebalance', async () => {
  const config = testConfig({ PDM_WINDOW: '3' });
  await createTopics(config, { partitions: 4, replication: 1 });
  const kafka = createKafka(config);
  const producer = kafka.producer();
  await producer.connect();
  // handledBy[phase][topic][machine] = set of worker names
  const seen = new Map<string, Set<string>>();
  let phase = 'before';
  const make = (name: string) =>
    new Worker(
      config,
      createLogger('warn', { worker: name }),
      createMetrics(undefined, false),
      undefined,
      (topic, machineId) => {
        const key = `${phase}|${topic === config.topics.readings ? 'readings' : 'logs'}|${machineId}`;
        const set = seen.get(key) ?? new Set<string>();
        set.add(name);
        seen.set(key, set);
      },
    );
  const machines = Array.from({ length: 24 }, (_, i) => `m-${i}`);
  const send = async (hour: number) => {
    await producer.send({
      topic: config.topics.logs,
      messages: machines.map((m) => ({
        key: m,
        value: JSON.stringify({ machineId: m, ts: T0 + hour * H, text: `inspection ${hour}` }),
      })),
    });
    await producer.send({
      topic: config.topics.readings,
      messages: machines.map((m) => ({
        key: m,
        value: JSON.stringify({ machineId: m, ts: T0 + hour * H, values: { v: hour } }),
      })),
    });
  };
  const complete = (p: string) =>
    machines.every((m) => seen.has(`${p}|readings|${m}`) && seen.has(`${p}|logs|${m}`));
  const a = make('a');
  const b = make('b');
  const redis = new Redis(config.redis.url);
  try {
    await Promise.all([a.start(), b.start()]);
    await eventually(
      'both workers in the group',
      () =>
        a.readiness().reasons.every((r) => !r.includes('group')) &&
        b.readiness().reasons.every((r) => !r.includes('group')),
    );
    await send(0);
    await eventually('all machines handled before the rebalance', () => complete('before'));
    phase = 'after';
    await withTimeout('worker b stop', b.stop(), 30_000); // b leaves: a owns every partition now
    await send(1);
    await eventually('all machines handled after the rebalance', () => complete('after'));
    for (const p of ['before', 'after']) {
      for (const m of machines) {
        const r = [...seen.get(`${p}|readings|${m}`)!];
        const l = [...seen.get(`${p}|logs|${m}`)!];
        assert.equal(r.length, 1, `${p}: ${m} readings handled by ${r.join(',')}`);
        assert.deepEqual(r, l, `${p}: ${m} readings by ${r.join(',')} but logs by ${l.join(',')}`);
      }
    }
    const workersBefore = new Set(machines.map((m) => [...seen.get(`before|readings|${m}`)!][0]));
    assert.deepEqual([...workersBefore].sort(), ['a', 'b'], 'both workers took a share before the rebalance');
    assert.ok(machines.every((m) => seen.get(`after|readings|${m}`)!.has('a')));
    // The machines b handled are restored from b's checkpoints by a: their windows continue.
    const moved = machines.find((m) => seen.get(`before|readings|${m}`)!.has('b'))!;
    assert.equal((await machineView(a.view, moved))?.windowFill, 2 / 3);
  } finally {
    await withTimeout('worker a stop', a.stop(), 30_000);
    await withTimeout('worker b stop', b.stop(), 30_000);
    await producer.disconnect();
    await redis.quit();
    await dropTestResources(config);
  }
});
