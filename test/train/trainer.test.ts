import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { storeGauges } from '../../src/train/trainer';
import { dropTestResources, SMALL_MODEL, testSetup, withTimeout } from '../helpers';

test('the store gauges show what the last round’s summary reported', async () => {
  const registry = new Registry();
  storeGauges(registry)({
    bytes: 1234,
    budgetBytes: 4096,
    machines: 2,
    readings: 50,
    logs: 3,
    failures: 1,
    windows: { near: 7, sample: 5, pending: 9 },
    dropped: { near: 0, sample: 4 },
    caps: { near: null, sample: 3 },
    lateReadings: 0,
    migrated: false,
  });
  const text = await registry.metrics();
  assert.match(text, /^pdm_train_store_bytes 1234$/m);
  assert.match(text, /^pdm_train_store_budget_bytes 4096$/m);
  assert.match(text, /^pdm_train_store_windows\{kind="sample"\} 5$/m);
});

test('pdm trainer refuses at start, exit 2, with the smallest PDM_TRAIN_STORE_BYTES that works when the budget cannot hold one window per machine', async () => {
  const { env, config } = testSetup({ ...SMALL_MODEL, PDM_HORIZON: '3h', PDM_TRAIN_STORE_BYTES: '64KiB' });
  await createTopics(config, { partitions: 1, replication: 1 });
  const producer = createKafka(config).producer();
  await producer.connect();
  try {
    // 600 machines × 12 hourly readings of noise: their undecided last 6 h alone outgrow 64 KiB.
    const noise = (a: number, b: number) => Math.abs(Math.sin(a * 12.9898 + b * 78.233) * 43_758.5453) % 1;
    await producer.send({
      topic: config.topics.readings,
      messages: Array.from({ length: 600 * 12 }, (_, i) => {
        const [m, h] = [i % 600, Math.floor(i / 600)];
        const values = { a: noise(m, h), b: noise(h, m), c: noise(m + h, m) };
        return { key: `m-${m}`, value: JSON.stringify({ machineId: `m-${m}`, ts: h * 3_600_000, values }) };
      }),
    });
    const child = spawn(process.execPath, ['bin/pdm.js', 'trainer'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await withTimeout('pdm trainer exit', once(child, 'exit'), 60_000)) as [number | null];
    assert.equal(code, 2, stderr.slice(-2000));
    const line = stderr.split('\n').find((l) => l.startsWith('pdm: PDM_TRAIN_STORE_BYTES'));
    const smallest = Number(/take (\d+) bytes, the smallest budget that works/.exec(line ?? '')?.[1]);
    assert.ok(smallest > 64 * 1024, line);
    assert.match(line ?? '', /PDM_TRAIN_STORE_BYTES=65536 is too small for 600 machines/);
  } finally {
    await withTimeout('producer disconnect', producer.disconnect());
    await dropTestResources(config);
  }
});
