/**
 * What the decision journal adds to a batch, against the real Redis: the journal write (one pipelined round
 * trip) and the checkpoint script's removal of the entries it covers, beside the checkpoint write itself.
 * A batch of `machines` machines, one scored window each (the common shape of a live batch), repeated.
 *
 *   node --import tsx bench/journal-cost.ts [machines] [reps]
 *
 * Prints the medians in ms as one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { createRedis } from '../src/redis/client';
import { CheckpointStore, newMachineState } from '../src/state';
import type { Decision, MachineState } from '../src/state';
import { median } from './stats';

async function main(): Promise<void> {
  const [machines = '200', reps = '30'] = process.argv.slice(2);
  const n = Number(machines);
  const redis = createRedis(loadConfig(process.env));
  const prefix = `bench-journal-${randomUUID().slice(0, 8)}:`;
  const store = new CheckpointStore(redis, prefix, 60);
  const place = { topic: 'r', partition: 0, incarnation: 'i1' };
  const states = (offset: number): MachineState[] =>
    Array.from({ length: n }, (_, i) => {
      const s = newMachineState(`m-${i}`);
      for (let t = 0; t < 24; t++) s.readings.push({ ts: t, values: { a: t, b: t / 2, c: 1, d: 0.5 } });
      s.applied.readings = offset;
      s.appliedAt = { readings: place };
      return s;
    });
  const decisions = (offset: number): Decision[] =>
    Array.from({ length: n }, (_, i) => ({
      machineId: `m-${i}`,
      place,
      offset,
      ts: offset,
      modelVersion: 'v1',
      score: Math.random(),
      threshold: 0.5,
    }));
  const time = async (f: () => Promise<void>) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  const plain: number[] = [];
  const journal: number[] = [];
  const withJournal: number[] = [];
  try {
    for (let r = 0, offset = 0; r < Number(reps); r++) {
      // Alternating, so that the noise of a shared machine falls on both.
      const a = states(++offset);
      plain.push(await time(() => store.save(a)));
      const d = decisions(++offset);
      const b = states(offset);
      journal.push(await time(() => store.record(d)));
      withJournal.push(await time(() => store.save(b)));
    }
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
  }
  const round = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      machines: n,
      reps: Number(reps),
      checkpointMs: round(median(plain)),
      journalWriteMs: round(median(journal)),
      checkpointRemovingEntriesMs: round(median(withJournal)),
    }),
  );
}

void main();
