import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args';
import type { ParsedArgs } from '../../src/cli/args';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { parseSimulateArgs, runSimulate } from '../../src/simulate';
import type { SimulateSummary } from '../../src/simulate';
import { eventually, withTimeout } from '../helpers';

const args = (flags: Record<string, string>, positional: string[] = []): ParsedArgs => ({
  positional,
  flags,
});

test('runSimulate --history 2d --machines 3 sends what its summary says, keyed by machineId', async () => {
  const tag = `sim-${randomUUID()}`;
  const config = loadConfig(process.env, {
    PDM_TOPIC_READINGS: `${tag}.readings`,
    PDM_TOPIC_LOGS: `${tag}.logs`,
    PDM_TOPIC_FAILURES: `${tag}.failures`,
    PDM_LOG_LEVEL: 'warn',
  });
  const topics = [config.topics.readings, config.topics.logs, config.topics.failures];
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `${tag}-check` });
  await admin.connect();
  try {
    const lines: string[] = [];
    // A short --mtbf so two days of three machines see a few failures too.
    const code = await runSimulate(
      config,
      args({ history: '2d', machines: '3', seed: '7', mtbf: '3d', start: '2026-01-01T00:00:00Z' }),
      undefined,
      (l) => lines.push(l),
    );
    assert.equal(code, 0);
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('\n'));
    const summary = JSON.parse(lines[0]!) as SimulateSummary;
    assert.equal(summary.readings, 3 * 48);
    assert.equal(summary.from, '2026-01-01T00:00:00.000Z');
    assert.equal(summary.to, '2026-01-02T23:00:00.000Z');
    assert.ok(summary.logs > 0);
    assert.ok(summary.seconds > 0);

    const got = new Map<string, Array<{ key: string; value: Record<string, unknown> }>>(
      topics.map((t) => [t, []]),
    );
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        got.get(topic)!.push({
          key: message.key!.toString(),
          value: JSON.parse(message.value!.toString()) as Record<string, unknown>,
        });
      },
    });
    const total = summary.readings + summary.logs + summary.failures;
    await eventually(
      'every message back',
      () => [...got.values()].reduce((a, m) => a + m.length, 0) >= total,
    );
    assert.equal(got.get(config.topics.readings)!.length, summary.readings);
    assert.equal(got.get(config.topics.logs)!.length, summary.logs);
    assert.equal(got.get(config.topics.failures)!.length, summary.failures);
    for (const [topic, messages] of got) {
      for (const m of messages) {
        assert.equal(m.key, m.value.machineId, `${topic}: key is the machineId`);
        assert.equal(typeof m.value.ts, 'string');
      }
    }
    assert.deepEqual([...new Set(got.get(config.topics.readings)!.map((m) => m.key))].sort(), [
      'm-000',
      'm-001',
      'm-002',
    ]);
    // Per machine, each topic arrives in event-time order (one partition per key).
    for (const messages of got.values()) {
      const last = new Map<string, string>();
      for (const m of messages) {
        const ts = m.value.ts as string;
        assert.ok(ts > (last.get(m.key) ?? ''), `${m.key} out of order at ${ts}`);
        last.set(m.key, ts);
      }
    }
  } finally {
    await withTimeout('consumer disconnect', consumer.disconnect());
    await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
  }
});

test('live mode honours --count and stops at once when the signal aborts', async () => {
  const tag = `sim-${randomUUID()}`;
  const config = loadConfig(process.env, {
    PDM_TOPIC_READINGS: `${tag}.readings`,
    PDM_TOPIC_LOGS: `${tag}.logs`,
    PDM_TOPIC_FAILURES: `${tag}.failures`,
    PDM_LOG_LEVEL: 'warn',
  });
  const admin = createKafka(config).admin();
  await admin.connect();
  try {
    const lines: string[] = [];
    await withTimeout(
      'count run',
      runSimulate(config, args({ machines: '4', rate: '200', count: '30' }), undefined, (l) => lines.push(l)),
    );
    assert.equal((JSON.parse(lines[0]!) as SimulateSummary).readings, 30);

    const controller = new AbortController();
    const started = Date.now();
    const running = runSimulate(config, args({ machines: '4', rate: '50' }), controller.signal, (l) =>
      lines.push(l),
    );
    setTimeout(() => controller.abort(), 1500);
    assert.equal(await withTimeout('aborted run', running), 0);
    assert.ok(Date.now() - started < 10_000);
    const summary = JSON.parse(lines[1]!) as SimulateSummary;
    // ~50 readings/s for ~1.5 s minus connection time: paced, neither a burst nor nothing.
    assert.ok(summary.readings > 5 && summary.readings < 120, `readings ${summary.readings}`);
  } finally {
    await admin
      .deleteTopics({
        topics: [config.topics.readings, config.topics.logs, config.topics.failures],
        timeout: 10_000,
      })
      .catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
  }
});

test('bad flag values are UsageErrors naming the flag', async () => {
  const config = loadConfig(process.env, {});
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ machines: 'three' }, /--machines/],
    [{ machines: '0' }, /--machines/],
    [{ rate: '-1' }, /--rate/],
    [{ history: '30 days' }, /--history/],
    [{ start: 'yesterday' }, /--start/],
    [{ 'failure-modes': 'drift,melt' }, /--failure-modes/],
    [{ follow: 'true' }, /--follow/],
    [{ history: '1d', duration: '1m' }, /--duration/],
    [{ degradation: '48h-24h' }, /--degradation/],
    [{ step: '1s' }, /--step/],
  ];
  for (const [flags, message] of cases) {
    // Validation happens before any connection, so this never touches Kafka.
    await assert.rejects(runSimulate(config, args(flags)), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${JSON.stringify(flags)} → ${String(error)}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => parseSimulateArgs(args({}, ['now']), 0), UsageError);
});

test('flags parse into options; config flags pass through', () => {
  const now = Date.parse('2026-11-29T08:53:21.107Z');
  const o = parseSimulateArgs(
    args({
      history: '30d',
      machines: '50',
      follow: 'true',
      'failure-modes': 'drift, spikes',
      'topic-readings': 'x',
      degradation: '12h-36h',
    }),
    now,
  );
  assert.equal(o.machines, 50);
  assert.equal(o.follow, true);
  assert.deepEqual(o.failureModes, ['drift', 'spikes']);
  assert.equal(o.start, Date.parse('2026-10-30T08:00:00Z'));
  assert.equal(o.backfillEnd, now + 1);
  assert.deepEqual(o.degradationMs, { min: 12 * 3_600_000, max: 36 * 3_600_000 });
  const d = parseSimulateArgs(args({}), now);
  assert.equal(d.machines, 20);
  assert.equal(d.rate, 20);
  assert.equal(d.start, Date.parse('2026-11-29T08:00:00Z'));
  const s = parseSimulateArgs(args({ start: '2026-01-01T00:00:00Z', history: '2d' }), now);
  assert.equal(s.start, Date.UTC(2026, 0, 1));
  assert.equal(s.backfillEnd, Date.UTC(2026, 0, 3));
});
