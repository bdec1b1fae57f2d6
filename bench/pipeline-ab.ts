/**
 * Before/after of the pipeline in one run: another checkout's Worker (the "before", e.g. main) against this
 * one's, interleaved run by run (A B, B A, A B …) so that the noise of a shared machine falls on both sides.
 * The other checkout must share this one's node_modules (one TensorFlow instance in the process).
 *
 *   node --import tsx bench/pipeline-ab.ts <other checkout> scored|rare [reps]   (every reading flips an alert | ~2% do)
 *   node --import tsx bench/pipeline-ab.ts <other checkout> ingest [reps]
 *   node --import tsx bench/pipeline-ab.ts <other checkout> latency|latency-rare [reps] [readings/s] [seconds]
 *
 * Prints each run and the medians (latency: of p50 and p99) as JSON lines.
 */
import { resolve } from 'node:path';
import { createMetrics } from '../src/metrics';
import { Worker } from '../src/worker';
import { latencyAtRate, produceHistory, scoredRun, withTopics, workerRate } from './pipeline';
import type { WorkerClass } from './pipeline';
import { median } from './stats';

const MACHINES = 200;

const sections = {
  scored: (Cls: WorkerClass) =>
    withTopics(true, async (config) => (await scoredRun(config, MACHINES, 300, 'flip', Cls)).rate),
  rare: (Cls: WorkerClass) =>
    withTopics(true, async (config) => (await scoredRun(config, MACHINES, 300, 'rare', Cls)).rate),
  ingest: (Cls: WorkerClass) =>
    withTopics(false, async (config) => {
      const total = await produceHistory(config, MACHINES, 500);
      return (await workerRate(config, total, 'recordsConsumed', createMetrics(undefined, false), Cls)).rate;
    }),
  latency: (Cls: WorkerClass, rate: number, seconds: number) =>
    withTopics(true, (config) => latencyAtRate(config, rate, seconds, MACHINES, Cls)),
  'latency-rare': (Cls: WorkerClass, rate: number, seconds: number) =>
    withTopics(true, (config) => latencyAtRate(config, rate, seconds, MACHINES, Cls, 'rare')),
};

async function main(): Promise<void> {
  const [other, what = 'scored', reps = '3', rate = '5000', seconds = '20'] = process.argv.slice(2);
  if (!other || !(what in sections))
    throw new Error(
      'usage: bench/pipeline-ab.ts <other checkout> scored|rare|ingest|latency|latency-rare [reps] [rate] [seconds]',
    );
  const before = ((await import(resolve(other, 'src/worker'))) as { Worker: WorkerClass }).Worker;
  const sides: [string, WorkerClass][] = [
    ['before', before],
    ['after', Worker],
  ];
  const runs: Record<string, number[][]> = { before: [], after: [] };
  for (let r = 0; r < Number(reps); r++)
    for (const [name, Cls] of r % 2 ? [...sides].reverse() : sides) {
      const figure =
        what === 'latency' || what === 'latency-rare'
          ? await sections[what](Cls, Number(rate), Number(seconds))
          : await sections[what as 'scored' | 'rare' | 'ingest'](Cls);
      console.log(JSON.stringify({ side: name, what, figure }));
      runs[name]!.push(
        typeof figure === 'number' ? [figure] : [figure.p50, figure.p99, figure.achieved, figure.steady.p99],
      );
    }
  const medians = (side: number[][]) => side[0]!.map((_, i) => median(side.map((run) => run[i]!)));
  console.log(
    `AB ${JSON.stringify({ what, columns: what.startsWith('latency') ? ['p50 ms', 'p99 ms', 'achieved/s', 'p99 ms after the first second'] : ['per s'], before: medians(runs.before!), after: medians(runs.after!) })}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
