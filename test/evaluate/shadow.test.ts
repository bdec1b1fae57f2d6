import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { alertId, applyScore } from '../../src/alerts';
import {
  createEvaluatorMetrics,
  emptyCounts,
  Evaluator,
  figures,
  formatCompare,
  readLiveFigures,
} from '../../src/evaluate';
import type { LiveFigures } from '../../src/evaluate';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { ModelRegistry } from '../../src/registry';
import { newAlertState } from '../../src/state';
import { dropTestResources, eventually, testConfig, withTimeout } from '../helpers';
import { registerKnownModel } from '../known-model';
import { EVAL_TEST_ENV } from './env';

const HOUR = 3_600_000;
const HORIZON = 12 * HOUR;
const GRACE = HOUR;
const START = Date.parse('2026-04-01T00:00:00Z');
const HOURS = 72;
const MACHINES = 4;
/** Known failure hours: m-0 and m-2 are preceded by high shadow scores, m-1 by a champion alert only. */
const FAILURES: Record<string, number> = { 'm-0': 30, 'm-1': 40, 'm-2': 50 };
const iso = (ms: number) => new Date(ms).toISOString();

/** The shadow's score of machine m at hour h: high before m-0's and m-2's failures and in a spike on healthy m-3. */
function shadowScore(m: string, h: number): number {
  const f = FAILURES[m];
  if ((m === 'm-0' || m === 'm-2') && f !== undefined && h >= f - 6 && h < f) return 0.9;
  if (m === 'm-3' && h >= 10 && h < 13) return 0.8;
  return 0.1;
}

const config = testConfig({
  ...EVAL_TEST_ENV,
  PDM_TOPIC_SCORES: `s${randomUUID().slice(0, 8)}.scores`,
});
const redis = new Redis(config.redis.url);
const started: Evaluator[] = [];

after(async () => {
  await Promise.all(started.map((e) => withTimeout('evaluator stop', e.stop()).catch(() => undefined)));
  await dropTestResources(config);
  await withTimeout('redis quit', redis.quit());
});

/** The oracle: the worker's alert policy on the shadow's scores, then the evaluation rules, directly. */
function offline(shadow: string, threshold: number): LiveFigures {
  const counts = emptyCounts();
  const leads: number[] = [];
  const raises = new Map<string, number[]>();
  for (let i = 0; i < MACHINES; i++) {
    const m = `m-${i}`;
    const alert = newAlertState();
    const ts: number[] = [];
    for (let h = 3; h < HOURS; h++)
      if (
        applyScore(alert, shadowScore(m, h), START + h * HOUR, { ...config.alerts, threshold }) === 'raised'
      )
        ts.push(START + h * HOUR);
    raises.set(m, ts);
    counts.exposureMs += (HOURS - 1) * HOUR;
  }
  for (const [m, h] of Object.entries(FAILURES)) {
    const f = START + h * HOUR;
    const before = (raises.get(m) ?? []).filter((a) => a < f && f <= a + HORIZON);
    if (before.length) {
      counts.detected++;
      leads.push((f - Math.min(...before)) / 1000);
    } else counts.missed++;
  }
  for (const [m, ts] of raises)
    for (const a of ts) {
      const f = FAILURES[m] === undefined ? undefined : START + FAILURES[m] * HOUR;
      if (f !== undefined && a < f && f <= a + HORIZON) counts.trueAlarms++;
      else if (START + (HOURS - 1) * HOUR >= a + HORIZON + GRACE) counts.falseAlarms++;
    }
  return figures(shadow, counts, leads);
}

test('the shadow version gets live recall, precision, false alarms and lead times from its scores, equal to the offline values, across a restart', async () => {
  await createTopics(config, { partitions: 2, replication: 1 });
  const champion = await registerKnownModel(redis, config, { threshold: 0.5 });
  const challenger = await registerKnownModel(redis, config, { promote: false, threshold: 0.5 });
  await new ModelRegistry(redis, config.redis.prefix).setShadow(challenger.version, config.model);
  const t = config.topics;
  const kafka = createKafka(config);
  const producer = kafka.producer();
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  const hourly = (from: number, to: number) => {
    const readings = [];
    const scores = [];
    for (let h = from; h < to; h++)
      for (let i = 0; i < MACHINES; i++) {
        const machineId = `m-${i}`;
        const ts = iso(START + h * HOUR);
        readings.push({ key: machineId, value: JSON.stringify({ machineId, ts, values: { v: 0 } }) });
        if (h < 3) continue;
        const score = (version: string, role: string, s: number) => ({
          key: machineId,
          value: JSON.stringify({ machineId, ts, score: s, modelVersion: version, role }),
        });
        scores.push(
          score(champion.version, 'champion', 0.1),
          score(challenger.version, 'shadow', shadowScore(machineId, h)),
        );
      }
    return { readings, scores };
  };
  const failures = Object.entries(FAILURES).map(([machineId, h]) => ({
    key: machineId,
    value: JSON.stringify({ machineId, ts: iso(START + h * HOUR), component: 'bearing' }),
  }));
  // The champion raised once, before m-1's failure only.
  const championAlert = {
    key: 'm-1',
    value: JSON.stringify({
      alertId: alertId('m-1', START + 37 * HOUR, champion.version, 'raised'),
      machineId: 'm-1',
      ts: iso(START + 37 * HOUR),
      state: 'raised',
      score: 0.9,
      threshold: 0.5,
      modelVersion: champion.version,
      emittedAt: iso(Date.now()),
      explain: {},
    }),
  };
  const send = async (topic: string, messages: { key: string; value: string }[]) => {
    for (let i = 0; i < messages.length; i += 500)
      await producer.send({ topic, messages: messages.slice(i, i + 500) });
  };
  const startEvaluator = async () => {
    const evaluator = new Evaluator(
      config,
      createLogger('warn', { role: 'evaluator-test' }),
      createEvaluatorMetrics(new Registry()),
    );
    started.push(evaluator);
    await evaluator.start();
    return evaluator;
  };
  try {
    // The worker "committed" everything, as one does once a batch's outputs are acknowledged.
    await admin.setOffsets({
      groupId: config.kafka.groupId,
      topic: t.readings,
      partitions: [0, 1].map((partition) => ({ partition, offset: '1000000000' })),
    });
    const first = hourly(0, 36);
    await send(t.readings, first.readings);
    await send(t.scores!, first.scores);
    await send(t.failures, failures.slice(0, 1));
    const one = await startEvaluator();
    await eventually('the first part consumed', () => one.view().clock === iso(START + 35 * HOUR));
    assert.equal(one.view().shadow, challenger.version);
    await withTimeout('first evaluator stop', one.stop());

    // The rest, with a redelivered run of shadow scores (a worker restarted before its commit): duplicates.
    const rest = hourly(36, HOURS);
    await send(t.readings, rest.readings);
    await send(t.scores!, [...rest.scores, ...first.scores.slice(0, 20)]);
    await send(t.failures, failures.slice(1));
    await send(t.alerts, [championAlert]);
    const two = await startEvaluator();
    const expected = offline(challenger.version, challenger.threshold);
    assert.ok(
      expected.detected === 2 && expected.missed === 1 && expected.falseAlarms >= 1,
      `a sequence with every outcome: ${JSON.stringify(expected)}`,
    );
    const shadowLive = () => two.view().versions.find((v) => v.version === challenger.version);
    await eventually(
      'the shadow decided',
      () => JSON.stringify(shadowLive()) === JSON.stringify(expected),
      20_000,
    ).catch(() => undefined);
    assert.deepEqual(shadowLive(), expected);
    // The champion is evaluated as before: its one alert detected m-1, it missed m-0 and m-2.
    const championLive = two.view().versions.find((v) => v.version === champion.version);
    assert.deepEqual(
      [championLive?.detected, championLive?.missed, championLive?.trueAlarms, championLive?.exposureMs],
      [1, 2, 1, expected.exposureMs],
    );
    assert.equal(two.view().ignored['scores|duplicate'], 10, 'the redelivered shadow scores count once');

    // `pdm model compare` reads the same figures from Redis.
    const table = formatCompare(
      champion.version,
      challenger.version,
      await readLiveFigures(redis, config.redis.prefix),
    );
    assert.match(table, new RegExp(`champion ${champion.version}\\s+shadow ${challenger.version}`));
    assert.match(table, /recall\s+0\.333 \(1\/3\)\s+0\.667 \(2\/3\)/);
    await withTimeout('second evaluator stop', two.stop());
  } finally {
    await withTimeout('producer disconnect', producer.disconnect());
    await admin.deleteGroups([`${config.kafka.groupId}.evaluator`]).catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
  }
});
