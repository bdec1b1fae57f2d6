import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerKnownModel } from '../known-model';
import { Bench, faultEnv, killStrays, metricSum, report, SKIP, WorkerProc } from './harness';
import {
  assertSeparated,
  checkAlerts,
  expectedAlerts,
  generateReadings,
  readingMessage,
  assertNoLostOrExtraAlerts,
} from './oracle';
import type { ObservedAlert } from './oracle';

const H = 3_600_000;
const SPEC = { machines: 200, steps: 40, t0: Date.parse('2026-01-15T00:00:00Z'), stepMs: H, seed: 19 };
const RATE = 300;
const THRESHOLD = 0.52;

/**
 * Memory pressure: PDM_MAX_MACHINES far below the fleet, and the eviction sweep every second, so machine
 * states are evicted and reloaded from their checkpoints all the time — also while a batch that touched them
 * is still being scored or published. An eviction must never lose state that is not checkpointed yet.
 */
test(
  'a machine bound far below the fleet (constant eviction and reload): alerts exact',
  { skip: SKIP, timeout: 4 * 60_000 },
  async (t) => {
    killStrays();
    const f = faultEnv('evict', { PDM_MAX_MACHINES: '20', PDM_IDLE_EVICT: '4s' });
    const bench = new Bench(f);
    const worker = new WorkerProc('a', f.env, 'eviction');
    t.after(async () => {
      await worker.stop(5_000);
      await bench.close();
    });
    await bench.open(6);
    const meta = await registerKnownModel(bench.redis, f.config, { threshold: THRESHOLD });
    const readings = generateReadings(SPEC);
    assertSeparated(readings, [THRESHOLD], f.config.alerts.hysteresis);
    const expected = expectedAlerts(readings, f.config.model.window, f.config.alerts, () => ({
      version: meta.version,
      threshold: THRESHOLD,
    }));
    await worker.start();
    assert.ok(await worker.waitReady(90_000), 'worker ready');
    await bench.stream(f.config.topics.readings, readings.map(readingMessage), RATE);
    await bench.waitLagZero(120_000);
    const alerts = (await bench.readAll<ObservedAlert>(f.config.topics.alerts)).map((m) => m.value!);
    const result = checkAlerts(expected, alerts);
    // For the first machines the checker flags: the expected and the observed transitions, in event-time order.
    const flagged = [
      ...new Set([...result.examples.extra, ...result.examples.missing].map((e) => e.split('|')[0]!)),
    ].slice(0, 2);
    const sequence = (list: { ts: number; state: string }[]) =>
      list.sort((x, y) => x.ts - y.ts).map((x) => `${new Date(x.ts).toISOString().slice(11, 16)} ${x.state}`);
    for (const m of flagged) {
      console.log(
        `${m} expected: ${sequence([...expected.values()].filter((e) => e.machineId === m)).join(', ')}`,
      );
      console.log(
        `${m} observed: ${sequence(alerts.filter((a) => a.machineId === m).map((a) => ({ ts: Date.parse(a.ts), state: a.state }))).join(', ')}`,
      );
    }
    const metrics = await worker.metrics();
    const tracked = metricSum(metrics, 'pdm_machines_tracked');
    report([
      {
        test: 'eviction',
        fault: 'PDM_MAX_MACHINES=20 for 200 machines',
        injected: SPEC.machines - 20,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: null,
        pass: result.missing === 0 && result.extra === 0,
        notes: `${readings.length} readings at ${RATE}/s, eviction sweep every 1 s; machines tracked at the end ${tracked}; ${result.expected} expected alerts${result.extra ? `; e.g. extra ${result.examples.extra[0]}` : ''}${result.missing ? `; e.g. missing ${result.examples.missing[0]}` : ''}`,
      },
    ]);
    assertNoLostOrExtraAlerts(result);
  },
);
