import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config';
import type { Config } from '../../src/config';
import { parseCounts } from '../../src/demo/tally';
import { createKafka } from '../../src/kafka/client';
import { createRedis } from '../../src/redis/client';
import { SENSOR_BASELINE } from '../../src/simulate/fleet';
import { dropTestResources, SMALL_MODEL, testEnv, withTimeout } from '../helpers';
import { registerKnownModel } from '../known-model';

/** A port free now, and the next one (the demo puts its trainer on worker port + 1). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every alert on the topic, read to its high watermark with a throw-away group. */
async function alertsOnTopic(config: Config): Promise<{ alertId: string; state: string }[]> {
  const kafka = createKafka(config);
  const admin = kafka.admin();
  await admin.connect();
  const high = (await admin.fetchTopicOffsets(config.topics.alerts)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const out: { alertId: string; state: string }[] = [];
  if (high === 0) return out;
  const consumer = kafka.consumer({ groupId: `${config.kafka.groupId}-check` });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.alerts, fromBeginning: true });
  let read = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(JSON.parse(message.value?.toString() ?? '{}') as { alertId: string; state: string });
        if (++read >= high) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

// A short window so that machines are scored a few seconds after the live stream starts.
const env = testEnv(SMALL_MODEL);
const config = loadConfig(process.env, env);
after(() => dropTestResources(config));

test(
  'the demo, headless: its final counts equal the alerts on the topic and the ALERT lines it printed',
  { timeout: 120_000 },
  async () => {
    // A model already serving makes the demo skip backfill and training; its score follows the simulator's
    // vibration z-score, so healthy noise and degradation both cross the threshold now and then.
    const redis = createRedis(config);
    const { mean, sd } = SENSOR_BASELINE.vibration;
    await registerKnownModel(redis, config, {
      threshold: 0.5,
      sensor: 'vibration',
      scaler: { mean, std: sd },
    });
    redis.disconnect();
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [join(__dirname, '..', '..', 'bin', 'pdm.js'), 'demo', '--for', '25s'],
      {
        env: { ...process.env, ...env, PDM_HTTP_PORT: String(port), PDM_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The fixture owns its cleanup: a demo that does not finish is killed, and what it printed is shown.
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const code = await withTimeout('the demo to finish', exited, 100_000).catch(async (error: Error) => {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${error.message}; it printed:\n${stdout.slice(-3000)}\n${stderr.slice(-2000)}`);
    });
    assert.equal(code, 0, `demo exited ${code}: ${stderr.slice(-2000)}`);
    const lines = stdout.split('\n');
    const final = parseCounts(lines.find((l) => l.includes('final: ')) ?? '');
    assert.ok(final, `a final status line in:\n${stdout.slice(-3000)}`);
    const printed = {
      raised: lines.filter((l) => /ALERT raised /.test(l)).length,
      cleared: lines.filter((l) => /ALERT cleared /.test(l)).length,
    };
    const onTopic = await alertsOnTopic(config);
    const distinct = new Map(onTopic.map((a) => [a.alertId, a.state]));
    const topic = {
      raised: [...distinct.values()].filter((s) => s === 'raised').length,
      cleared: [...distinct.values()].filter((s) => s === 'cleared').length,
    };
    assert.ok(topic.raised > 0, 'the run raised alerts (a test of counts needs some)');
    assert.deepEqual({ raised: final.raised, cleared: final.cleared }, topic);
    assert.deepEqual(printed, topic);
    assert.equal(final.open, topic.raised - topic.cleared);
    assert.equal(final.machines, 20);
    // Every status line is consistent too: counts never exceed the final ones.
    for (const l of lines.filter((x) => x.includes('status: '))) {
      const c = parseCounts(l);
      assert.ok(c && c.raised <= final.raised && c.cleared <= final.cleared, l);
    }
  },
);
