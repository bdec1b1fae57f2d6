import assert from 'node:assert/strict';
import { ConfigResourceTypes } from 'kafkajs';
import { faultTest, KNOWN_THRESHOLD, report, seconds } from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet, readingMessage } from './oracle';

const SPEC = hourlyFleet('2025-08-01T00:00:00Z', 60, 11, 60);
/** The broker's default `message.max.bytes`: the local stack raises it to 10 MB, which would hide the defect. */
const BROKER_DEFAULT_MAX_BYTES = 1_048_588;

/**
 * Issue 12, finding 1, with two real worker processes: a dead letter of a record with a 300 KB key of control
 * bytes used to grow past the broker's default record limit (the key twice, escaped), and kafkajs's
 * MESSAGE_TOO_LARGE is not retriable, so the owner of the partition crashed, and so did every next owner.
 */
faultTest(
  'oversized poison (a 300 KB control-byte key, a 2 MB value) with two workers and the broker default limit on dead letters: both stay up, both dead-lettered, alerts exact',
  { minutes: 5, name: 'oversize', env: { PDM_MAX_RECORD_BYTES: '65536' } },
  async ({ bench, config, workers, knownRun, startWorkers, alerts }) => {
    await bench.admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: config.topics.dlq,
          configEntries: [{ name: 'max.message.bytes', value: String(BROKER_DEFAULT_MAX_BYTES) }],
        },
      ],
    });
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers();

    const third = Math.floor(readings.length / 3);
    for (let i = 0; i < third; i += 500)
      await bench.sendReliably(
        config.topics.readings,
        readings.slice(i, Math.min(third, i + 500)).map(readingMessage),
      );
    const producer = await bench.getProducer();
    const started = Date.now();
    const ts = new Date(readings[third]!.ts).toISOString();
    await producer.send({
      topic: config.topics.readings,
      acks: -1,
      messages: [
        // Explicit partitions: kafkajs's default partitioner hashes a 300 KB key for tens of seconds.
        {
          key: Buffer.alloc(300_000, 0x01),
          value: JSON.stringify({ machineId: 'ctl', ts, values: { v: 1 } }),
          partition: 0,
        },
        {
          key: 'big',
          value: JSON.stringify({ machineId: 'big', ts, values: { v: 1 }, pad: 'y'.repeat(2_000_000) }),
          partition: 1,
        },
      ],
    });
    for (let i = third; i < readings.length; i += 500)
      await bench.sendReliably(config.topics.readings, readings.slice(i, i + 500).map(readingMessage));
    const drainMs = await bench.waitLagZero(180_000);

    const result = checkAlerts(expected, await alerts());
    const dlq = await bench.readAll<{ error: { code: string }; keyBytes: number; valueBytes: number }>(
      config.topics.dlq,
    );
    const codes = [...new Set(dlq.map((d) => d.value!.error.code))].sort();
    const recordBytes = dlq.map((d) => (d.raw?.length ?? 0) + Buffer.byteLength(d.key ?? ''));
    const health = await Promise.all(workers.map((w) => w.get('/healthz')));
    const up = workers.every(
      (w, i) => w.alive && w.crashes.length === 0 && w.starts === 1 && health[i]?.status === 200,
    );
    report([
      {
        test: 'oversize',
        fault: 'oversized poison, dead letters at the broker default limit (2 workers)',
        injected: 2,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(Date.now() - started),
        pass: up && result.missing === 0 && result.extra === 0 && codes.join() === 'key_mismatch,oversize',
        notes: `${readings.length} readings/${SPEC.machines} machines; dead letters ${dlq.length} (${codes.join(', ')}), largest ${Math.max(...recordBytes)} bytes; workers up: ${up}; drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.ok(
      up,
      `both workers stayed up: ${JSON.stringify(workers.map((w) => ({ alive: w.alive, exits: w.exits })))}`,
    );
    assert.deepEqual(codes, ['key_mismatch', 'oversize']);
    assert.ok(
      recordBytes.every((n) => n <= BROKER_DEFAULT_MAX_BYTES),
      'every dead letter within the limit',
    );
    const keyed = dlq.find((d) => d.value!.error.code === 'key_mismatch')!.value!;
    assert.equal(keyed.keyBytes, 300_000);
    assert.ok(dlq.find((d) => d.value!.error.code === 'oversize')!.value!.valueBytes > 2_000_000);
    assertNoLostOrExtraAlerts(result);
  },
);
