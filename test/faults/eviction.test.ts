import assert from 'node:assert/strict';
import { faultTest, KNOWN_THRESHOLD, metricSum, report, sleep } from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet, readingMessage } from './oracle';

/**
 * Memory pressure: PDM_MAX_MACHINES far below the fleet, and the eviction sweep every second, so machine
 * states are evicted and reloaded from their checkpoints all the time — also while a batch that touched them
 * is still being scored or published. An eviction must never lose state that is not checkpointed yet.
 */
const SPEC = hourlyFleet('2026-01-15T00:00:00Z', 40, 19);
const RATE = 300;

faultTest(
  'a machine bound far below the fleet (constant eviction and reload): alerts exact',
  { minutes: 4, name: 'eviction', workers: ['a'], env: { PDM_MAX_MACHINES: '20', PDM_IDLE_EVICT: '4s' } },
  async ({ bench, config, workers, knownRun, startWorkers, alerts }) => {
    const worker = workers[0]!;
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers();
    // RSS and machines held, sampled every second while the stream runs (the bound holds on insert).
    const rss: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await worker.metrics().catch(() => '');
        if (text) rss.push(metricSum(text, 'process_resident_memory_bytes'));
        await sleep(1_000);
      }
    })();
    await bench.stream(config.topics.readings, readings.map(readingMessage), RATE);
    await bench.waitLagZero(120_000);
    sampling = false;
    await sampler;
    const mb = (b: number) => Math.round(b / 1_048_576);
    const half = Math.floor(rss.length / 2);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const observed = await alerts();
    const result = checkAlerts(expected, observed);
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
        `${m} observed: ${sequence(observed.filter((a) => a.machineId === m).map((a) => ({ ts: Date.parse(a.ts), state: a.state }))).join(', ')}`,
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
        notes: `${readings.length} readings at ${RATE}/s, bound on insert (and the idle sweep every 1 s); machines tracked at the end ${tracked}; RSS median first/second half ${mb(median(rss.slice(0, half)))}/${mb(median(rss.slice(half)))} MB, max ${mb(Math.max(...rss))} MB over ${rss.length} samples; ${result.expected} expected alerts${result.extra ? `; e.g. extra ${result.examples.extra[0]}` : ''}${result.missing ? `; e.g. missing ${result.examples.missing[0]}` : ''}`,
      },
    ]);
    assert.ok(tracked <= 20, `machines held at the end: ${tracked}`);
    assertNoLostOrExtraAlerts(result);
  },
);
