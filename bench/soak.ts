import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { tf } from '../src/model/tf';
import { createRedis } from '../src/redis/client';
import { createTopics } from '../src/kafka/topics';
import { Worker } from '../src/worker';
import { dropTestResources, testConfig } from '../test/helpers';
import { registerKnownModel } from '../test/known-model';
import { table } from './stats';

/**
 * Soak: a worker under a steady offered load (from a separate process) for PDM_SOAK_MINUTES (default 30;
 * `--quick`: 3), sampling RSS, heap and the live tensor count every PDM_SOAK_SAMPLE_SECONDS (default 30).
 * Flat after warm-up is the pass criterion a reader applies to the table; nothing is asserted here.
 */
export async function benchSoak(quick: boolean): Promise<Record<string, unknown>> {
  const minutes = Number(process.env.PDM_SOAK_MINUTES ?? (quick ? 3 : 30));
  const sampleSeconds = Number(process.env.PDM_SOAK_SAMPLE_SECONDS ?? (quick ? 15 : 30));
  const rate = Number(process.env.PDM_SOAK_RATE ?? 500);
  const config = testConfig({ PDM_LOG_LEVEL: 'error', PDM_ALERT_COOLDOWN: '0ms' });
  const samples: { minute: number; rssMb: number; heapMb: number; tensors: number; consumed: number }[] = [];
  try {
    await createTopics(config, { partitions: 4, replication: 1 });
    const redis = createRedis(config);
    await registerKnownModel(redis, config);
    redis.disconnect();
    const metrics = createMetrics(undefined, false);
    const worker = new Worker(config, createLogger('error'), metrics);
    await worker.start();
    const load = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, 'offered-load.ts'),
        config.kafka.brokers.join(','),
        config.topics.readings,
        String(rate),
        String(minutes * 60),
        '200',
        '0',
      ],
      { stdio: 'ignore' },
    );
    const start = performance.now();
    while (performance.now() - start < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
      const mem = process.memoryUsage();
      const consumed = (await metrics.recordsConsumed.get()).values.reduce((s, v) => s + v.value, 0);
      samples.push({
        minute: (performance.now() - start) / 60_000,
        rssMb: mem.rss / 2 ** 20,
        heapMb: mem.heapUsed / 2 ** 20,
        tensors: tf.memory().numTensors,
        consumed,
      });
    }
    load.kill('SIGTERM');
    await worker.stop();
  } finally {
    await dropTestResources(config);
  }
  console.log(
    table(
      `Soak: ${rate} readings/s offered for ${minutes} min (worker in-process, known model)`,
      ['minute', 'RSS MB', 'heap MB', 'tensors', 'consumed'],
      samples.map((s) => [s.minute, s.rssMb, s.heapMb, s.tensors, s.consumed]),
    ),
  );
  return { minutes, rate, samples };
}
