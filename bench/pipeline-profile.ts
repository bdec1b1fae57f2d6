/**
 * Where an ingested reading's time goes: the worker of this checkout in the ingest bench (scoring off), under
 * the V8 CPU profiler, started after the topic is written so that only consumption is profiled.
 *
 *   node --import tsx bench/pipeline-profile.ts [out.cpuprofile] [hours] [other checkout]
 *
 * With another checkout (sharing this one's node_modules), its worker is the one profiled: a before/after in
 * CPU time a reading, which a shared machine disturbs less than the rates.
 *
 * Prints self time grouped by where the code lives (our modules by file, kafkajs, ioredis, node internals,
 * GC) and the heaviest functions; the .cpuprofile opens in Chrome DevTools.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Session } from 'node:inspector/promises';
import { createTopics } from '../src/kafka/topics';
import { createMetrics } from '../src/metrics';
import { Worker } from '../src/worker';
import { dropTestResources } from '../test/helpers';
import { benchConfig, produceHistory, rawConsume, workerRate } from './pipeline';
import type { WorkerClass } from './pipeline';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The bucket a frame's self time counts against. */
function bucket(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
  if (nm) return nm[1] === 'kafkajs' ? `kafkajs/${nm[2]!.split('/').slice(0, 2).join('/')}` : nm[1]!;
  const src = url.match(/\/((?:src|bench|test)\/.*)$/);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return url;
  return url ? 'other' : `(native) ${fn || '(anonymous)'}`;
}

interface Summary {
  /** CPU time (µs) not idle, per record. */
  busyPerRecord: number;
  buckets: Map<string, number>;
  fns: Map<string, number>;
  busy: number;
}

async function profiled<T>(
  session: Session,
  run: () => Promise<T>,
): Promise<{ result: T; profile: Profile }> {
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const result = await run();
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  return { result, profile };
}

function summarise(profile: Profile, records: number): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName: fn, url, lineNumber } = byId.get(id)!.callFrame;
    if (fn === 'dispatch' && url === '') continue; // Profiler.stop itself, sampled while it serialises
    const b = bucket(url, fn);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    if (b !== '(idle)') busy += us;
    const f = `${fn || '(anonymous)'} ${b}:${lineNumber + 1}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  return { busyPerRecord: busy / records, buckets, fns, busy };
}

function top(m: Map<string, number>, n: number, busy: number, records: number): string {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([k, us]) =>
        `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / records).toFixed(2).padStart(6)} µs/rec  ${k}`,
    )
    .join('\n');
}

async function main(): Promise<void> {
  const [out = '/tmp/ingest.cpuprofile', hours = '500', other] = process.argv.slice(2);
  const Cls = other
    ? ((await import(resolve(other, 'src/worker'))) as { Worker: WorkerClass }).Worker
    : Worker;
  const config = benchConfig();
  const session = new Session();
  session.connect();
  try {
    await createTopics(config, { partitions: 4, replication: 1 });
    const total = await produceHistory(config, 200, Number(hours));
    const raw = await profiled(session, () => rawConsume(config, total));
    const worker = await profiled(session, () =>
      workerRate(config, total, 'recordsConsumed', createMetrics(undefined, false), Cls),
    );
    writeFileSync(out, JSON.stringify(worker.profile));
    const r = summarise(raw.profile, total);
    const w = summarise(worker.profile, total);
    console.log(
      `raw consume ${Math.round(raw.result)} msg/s, CPU ${r.busyPerRecord.toFixed(2)} µs a record; ` +
        `worker ${Math.round(worker.result.rate)} readings/s, CPU ${w.busyPerRecord.toFixed(2)} µs a reading ` +
        `(${total} records; startup and group join included in both)`,
    );
    console.log(`\nworker, by place (share of its busy time):\n${top(w.buckets, 30, w.busy, total)}`);
    console.log(`\nworker, by function:\n${top(w.fns, 40, w.busy, total)}`);
    console.log(`\nraw consume, by place:\n${top(r.buckets, 12, r.busy, total)}`);
  } finally {
    session.disconnect();
    await dropTestResources(config);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
