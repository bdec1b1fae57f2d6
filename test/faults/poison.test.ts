import assert from 'node:assert/strict';
import { registerKnownModel } from '../known-model';
import { faultTest, KNOWN_THRESHOLD, metricSum, report } from './harness';
import type { FaultResult } from './harness';
import {
  assertNoLostOrExtraAlerts,
  checkAlerts,
  HOUR,
  hourlyFleet,
  machineName,
  readingMessage,
} from './oracle';
import type { ObservedAlert, Reading } from './oracle';

const SPEC = hourlyFleet('2025-07-01T00:00:00Z', 40, 6, 60);
const MAX_RECORD_BYTES = 4096;

type Message = { key: string | null; value: string | null; partition?: number };
interface Poison {
  readonly kind: string;
  /** The dead-letter code the contract promises; undefined: accepted or deliberately dropped, not dead-lettered. */
  readonly code: string | undefined;
  readonly make: (r: Reading) => Message[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const body = (r: Reading, patch: Record<string, unknown> = {}) =>
  JSON.stringify({ machineId: r.machineId, ts: iso(r.ts), values: { v: r.v }, ...patch });

/** The corpus: each kind is injected right after a valid reading `r` of some machine (so late/duplicate are relative to it). */
const CORPUS: readonly Poison[] = [
  {
    kind: 'truncated JSON',
    code: 'bad_json',
    make: (r) => [{ key: r.machineId, value: body(r).slice(0, 25) }],
  },
  { kind: 'null value (tombstone)', code: 'bad_json', make: (r) => [{ key: r.machineId, value: null }] },
  {
    kind: 'values.v is a string',
    code: 'bad_shape',
    make: (r) => [{ key: r.machineId, value: body(r, { values: { v: 'high' } }) }],
  },
  {
    kind: 'values is an array',
    code: 'bad_shape',
    make: (r) => [{ key: r.machineId, value: body(r, { values: [1, 2] }) }],
  },
  {
    kind: 'ts is a boolean',
    code: 'bad_ts',
    make: (r) => [{ key: r.machineId, value: body(r, { ts: true }) }],
  },
  {
    kind: 'ts without a zone',
    code: 'bad_ts',
    make: (r) => [{ key: r.machineId, value: body(r, { ts: iso(r.ts + 60_000).replace('Z', '') }) }],
  },
  {
    kind: 'machineId is a number',
    code: 'missing_machine_id',
    make: (r) => [{ key: r.machineId, value: body(r, { machineId: 42 }) }],
  },
  {
    kind: 'machineId absent',
    code: 'missing_machine_id',
    make: (r) => [{ key: r.machineId, value: JSON.stringify({ ts: iso(r.ts + 60_000), values: { v: 1 } }) }],
  },
  {
    kind: '1e999',
    code: 'non_finite',
    make: (r) => [
      {
        key: r.machineId,
        value: `{"machineId":"${r.machineId}","ts":${r.ts + 60_000},"values":{"v":1e999}}`,
      },
    ],
  },
  {
    kind: '-1e999 in a second sensor',
    code: 'non_finite',
    make: (r) => [
      {
        key: r.machineId,
        value: `{"machineId":"${r.machineId}","ts":${r.ts + 60_000},"values":{"v":1,"w":-1e999}}`,
      },
    ],
  },
  {
    kind: `record > PDM_MAX_RECORD_BYTES`,
    code: 'oversize',
    make: (r) => [
      {
        key: r.machineId,
        value: body({ ...r, ts: r.ts + 60_000 }, { note: 'x'.repeat(MAX_RECORD_BYTES * 3) }),
      },
    ],
  },
  {
    kind: '__proto__ key',
    code: 'unsafe_key',
    make: (r) => [
      {
        key: r.machineId,
        value: `{"machineId":"${r.machineId}","ts":${r.ts + 60_000},"values":{"v":1},"__proto__":{"polluted":true}}`,
      },
    ],
  },
  {
    kind: 'constructor key in values',
    code: 'unsafe_key',
    make: (r) => [
      {
        key: r.machineId,
        value: `{"machineId":"${r.machineId}","ts":${r.ts + 60_000},"values":{"v":1,"constructor":2}}`,
      },
    ],
  },
  {
    kind: 'key differs from machineId',
    code: 'key_mismatch',
    make: (r) => [
      { key: r.machineId, value: body({ ...r, machineId: `${r.machineId}-other`, ts: r.ts + 60_000 }) },
    ],
  },
  {
    kind: 'ts two days in the future',
    code: 'future',
    make: (r) => [{ key: r.machineId, value: body({ ...r, ts: Date.now() + 2 * 86_400_000 }) }],
  },
  {
    kind: 'ts 2.5 h behind (lateness 1 h)',
    code: 'late',
    make: (r) => [{ key: r.machineId, value: body({ ...r, ts: r.ts - 2.5 * HOUR }) }],
  },
  { kind: 'exact duplicate', code: undefined, make: (r) => [readingMessage(r)] },
  {
    kind: 'out of order within lateness',
    code: undefined,
    make: (r) => [{ key: r.machineId, value: body({ ...r, ts: r.ts - 0.5 * HOUR }) }],
  },
  {
    kind: 'unknown machine',
    code: undefined,
    make: (r) =>
      [0, 1].map((i) => ({
        key: `unknown-${r.machineId}`,
        value: JSON.stringify({
          machineId: `unknown-${r.machineId}`,
          ts: iso(r.ts + i * HOUR),
          values: { v: 2 },
        }),
      })),
  },
];
const LOG_POISON: readonly { code: string; value: string }[] = [
  { code: 'bad_json', value: '{"machineId":' },
  { code: 'bad_json', value: 'not json at all' },
  { code: 'unsafe_key', value: '{"machineId":"m-0000","ts":0,"text":"x","__proto__":{}}' },
];
const COPIES = 3;

faultTest(
  'poison corpus mixed into valid traffic: each dead-lettered with its code, duplicates dropped, the worker stays up, valid alerts exact',
  {
    minutes: 5,
    name: 'poison',
    env: { PDM_MAX_RECORD_BYTES: String(MAX_RECORD_BYTES) },
    workers: ['a'],
  },
  async ({ bench, config, workers, knownRun, startWorkers }) => {
    const worker = workers[0]!;
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);

    // Interleave: poison i goes right after the reading of machine (i·7 mod M) at step window+2+(i mod 20).
    const injected = new Map<string, number>();
    const after = new Map<number, Message[]>();
    let n = 0;
    for (let copy = 0; copy < COPIES; copy++) {
      CORPUS.forEach((p) => {
        const m = (n * 7) % SPEC.machines;
        const step = config.model.window + 2 + (n % 20);
        const index = step * SPEC.machines + m;
        const r = readings[index]!;
        assert.equal(r.machineId, machineName(SPEC, m));
        after.set(index, [...(after.get(index) ?? []), ...p.make(r)]);
        injected.set(p.code ?? p.kind, (injected.get(p.code ?? p.kind) ?? 0) + 1);
        n++;
      });
    }
    const stream: Message[] = readings.flatMap((r, i) => [readingMessage(r), ...(after.get(i) ?? [])]);

    await startWorkers();
    await bench.sendReliably(
      config.topics.logs,
      LOG_POISON.map((p, i) => ({ key: `m-${String(i).padStart(4, '0')}`, value: p.value })),
    );
    for (let i = 0; i < stream.length; i += 500)
      await bench.sendReliably(config.topics.readings, stream.slice(i, i + 500));
    await bench.waitLagZero(120_000);

    const [alerts, dlq] = await Promise.all([
      bench.readAll<ObservedAlert>(config.topics.alerts),
      bench.readAll<{ topic: string; error: { code: string } }>(config.topics.dlq),
    ]);
    const result = checkAlerts(
      expected,
      alerts.map((m) => m.value!),
    );
    const metrics = await worker.metrics();
    const health = await worker.get('/healthz');

    const dlqCount = (topic: string, code: string) =>
      dlq.filter((d) => d.value?.topic === topic && d.value.error.code === code).length;
    const rows: FaultResult[] = [];
    const problems: string[] = [];
    const readingCodes = [...new Set(CORPUS.map((p) => p.code).filter((c): c is string => c !== undefined))];
    // Per code: dead letters on the topic and pdm_records_invalid_total both equal what was injected.
    const checkCode = (label: string, fault: string, topic: string, code: string, want: number) => {
      const got = dlqCount(topic, code);
      const metric = metricSum(metrics, 'pdm_records_invalid_total', { topic, code });
      if (got !== want || metric !== want)
        problems.push(`${label} ${code}: injected ${want}, dead-lettered ${got}, metric ${metric}`);
      rows.push({
        test: 'poison',
        fault,
        injected: want,
        missing: null,
        extra: null,
        duplicated: null,
        recoverySeconds: null,
        pass: got === want && metric === want,
        notes: `dead-lettered ${got}, pdm_records_invalid_total ${metric}`,
      });
    };
    for (const code of readingCodes)
      checkCode('readings', `poison ${code}`, config.topics.readings, code, injected.get(code) ?? 0);
    for (const code of new Set(LOG_POISON.map((p) => p.code)))
      checkCode(
        'logs',
        `poison (logs) ${code}`,
        config.topics.logs,
        code,
        LOG_POISON.filter((p) => p.code === code).length,
      );
    const unexpectedDlq =
      dlq.length - [...readingCodes].reduce((s, c) => s + (injected.get(c) ?? 0), 0) - LOG_POISON.length;
    if (unexpectedDlq !== 0) problems.push(`dead letters beyond the injected ones: ${unexpectedDlq}`);
    const duplicatesInjected = injected.get('exact duplicate') ?? 0;
    const duplicatesDropped = metricSum(metrics, 'pdm_records_dropped_total', {
      topic: config.topics.readings,
      reason: 'duplicate',
    });
    rows.push({
      test: 'poison',
      fault: 'poison duplicate (dropped, not dead-lettered)',
      injected: duplicatesInjected,
      missing: null,
      extra: null,
      duplicated: null,
      recoverySeconds: null,
      pass: duplicatesDropped === duplicatesInjected,
      notes: `pdm_records_dropped_total{reason="duplicate"} ${duplicatesDropped}`,
    });
    if (duplicatesDropped !== duplicatesInjected)
      problems.push(`duplicates: injected ${duplicatesInjected}, dropped ${duplicatesDropped}`);
    const total = [...injected.values()].reduce((a, b) => a + b, 0) + LOG_POISON.length;
    const up = worker.alive && health?.status === 200 && worker.crashes.length === 0 && worker.starts === 1;
    rows.unshift({
      test: 'poison',
      fault: 'poison corpus (all kinds)',
      injected: total,
      missing: result.missing,
      extra: result.extra,
      duplicated: result.duplicates,
      recoverySeconds: null,
      pass: problems.length === 0 && result.missing === 0 && result.extra === 0 && up,
      notes: `${CORPUS.length} kinds x${COPIES} in ${readings.length} valid readings + ${LOG_POISON.length} bad logs; ${result.expected} expected alerts; worker up: ${up}${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`,
    });
    report(rows);
    assert.ok(
      up,
      `worker stayed up (alive ${worker.alive}, /healthz ${health?.status}, exits ${JSON.stringify(worker.exits)})`,
    );
    assert.deepEqual(problems, []);
    assertNoLostOrExtraAlerts(result);
    assert.equal(result.duplicates, 0);
  },
);

/**
 * A valid reading produced without a key lands on whatever partition the producer picks. The contract
 * requires key = machineId; if the worker applies such a record anyway, the machine's "last applied
 * offset" (per machine, meant for its own partition) takes an offset of ANOTHER partition, and the
 * machine's next records on its real partition, at lower offsets, are skipped as "redelivered": the
 * machine goes silent. Expected: dead-lettered as key_mismatch, and the machine keeps being scored.
 */
faultTest(
  'a keyless reading for a known machine is dead-lettered (key_mismatch) and does not silence the machine',
  {
    minutes: 3,
    name: 'nokey',
    env: { PDM_TOPIC_SCORES: `fnokey${Date.now() % 1e6}.scores` },
    workers: ['a'],
    partitions: 2,
  },
  async ({ bench, config, startWorkers }) => {
    await registerKnownModel(bench.redis, config, { threshold: KNOWN_THRESHOLD });
    await startWorkers();
    const producer = await bench.getProducer();
    const t0 = Date.parse('2025-08-01T00:00:00Z');
    const x = 'machine-x';
    const reading = (i: number) => ({
      key: x,
      value: JSON.stringify({ machineId: x, ts: iso(t0 + i * HOUR), values: { v: 0.2 } }),
    });
    // Each step is consumed before the next, so the order in which the worker applies them is fixed.
    const step = async (messages: { partition?: number; key: string | null; value: string }[]) => {
      const meta = await producer.send({ topic: config.topics.readings, messages, acks: -1 });
      await bench.waitLagZero(60_000);
      return meta;
    };
    const [first] = await step([reading(0), reading(1), reading(2), reading(3)]);
    const home = first!.partition;
    const other = 1 - home;
    // The other partition runs 50 offsets ahead of machine-x's (valid readings of other machines placed there
    // explicitly), then the keyless reading of machine-x, newer than its last one, lands there.
    await step(
      Array.from({ length: 50 }, (_, i) => ({
        partition: other,
        key: `filler-${i}`,
        value: JSON.stringify({ machineId: `filler-${i}`, ts: iso(t0), values: { v: 0.2 } }),
      })),
    );
    await step([
      {
        partition: other,
        key: null,
        value: JSON.stringify({ machineId: x, ts: iso(t0 + 3.5 * HOUR), values: { v: 0.2 } }),
      },
    ]);
    await step([4, 5, 6, 7, 8, 9].map(reading));
    const [scores, dlq] = await Promise.all([
      bench.readAll<{ machineId: string; ts: string }>(config.topics.scores!),
      bench.readAll<{ error: { code: string } }>(config.topics.dlq),
    ]);
    const scoredTs = scores
      .filter((s) => s.value?.machineId === x)
      .map((s) => (Date.parse(s.value!.ts) - t0) / HOUR);
    const codes = dlq.map((d) => d.value?.error.code);
    report([
      {
        test: 'poison',
        fault: 'keyless reading of a known machine',
        injected: 1,
        missing: [3, 4, 5, 6, 7, 8, 9].filter((h) => !scoredTs.includes(h)).length,
        extra: scoredTs.filter((h) => !Number.isInteger(h)).length,
        duplicated: null,
        recoverySeconds: null,
        pass: codes.join() === 'key_mismatch' && scoredTs.join() === '3,4,5,6,7,8,9',
        notes: `dead letters [${codes.join(',')}]; ${x} scored at hours [${scoredTs.join(',')}] (expected 3..9); missing/extra count scores`,
      },
    ]);
    assert.deepEqual(
      scoredTs,
      [3, 4, 5, 6, 7, 8, 9],
      'machine-x is scored on each of its readings 3..9, and not on the keyless one',
    );
    assert.deepEqual(codes, ['key_mismatch']);
  },
);
