import type { ChildProcess } from 'node:child_process';
import type { Admin } from 'kafkajs';
import { spawnPdm } from '../cli/child';
import type { Config } from '../config';
import { createKafka } from '../kafka/client';
import { createTopics } from '../kafka/topics';
import { openRedis } from '../redis/client';
import { ModelRegistry } from '../registry';
import { retry } from '../retry';
import { DemoTally, formatCounts } from './tally';
import type { SeenAlert } from './tally';
import { formatLive } from '../evaluate/tally';
import type { LiveFigures } from '../evaluate/tally';

const DAY = 86_400_000;
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);

/** Runs `pdm <args>` to completion, streaming nothing but its JSON summary line; rejects on a non-zero exit. */
function runPdm(args: string[], config: Config, onStderr?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnPdm(args, config, ['ignore', 'pipe', 'pipe']);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) =>
      d
        .toString()
        .split('\n')
        .filter(Boolean)
        .forEach((l) => onStderr?.(l)),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve(out.trim().split('\n').pop() ?? '')
        : reject(new Error(`pdm ${args.join(' ')} exited ${code}`)),
    );
  });
}

function startPdm(args: string[], config: Config): ChildProcess {
  return spawnPdm(args, config, ['ignore', 'ignore', 'ignore']);
}

async function getJson(port: number, path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function metric(port: number, names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (!m || !names.includes(m[1]!)) continue;
      out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
    }
  } catch {
    /* the worker may be restarting */
  }
  return out;
}

export interface DemoOptions {
  /** Stop after this long (`pdm demo --for 30s`); the default runs until Ctrl-C. */
  readonly runForMs?: number;
  /** Epochs of the demo's trainings (the CLI passes 4 unless PDM_TRAIN_EPOCHS is set: minutes on 2 cores). */
  readonly trainEpochs?: number;
}

/**
 * `pdm demo` (run by `npm run demo` after setup and `pdm stack up`): the whole loop on this machine.
 * Backfills 30 days of a simulated fleet (event time 60 to 30 days ago), trains the first model, then
 * runs a worker, the trainer and a live simulator continuing from there, and reports what happens.
 */
export async function runDemo(config: Config, opts: DemoOptions = {}): Promise<number> {
  const workerPort = config.http.port;
  const trainerPort = workerPort + 1;
  const evaluatorPort = workerPort + 2;
  // Every child runs with this process's config, adjusted here: quiet logs, HTTP on loopback.
  const quiet: Config = { ...config, logLevel: 'warn', http: { host: '127.0.0.1', port: workerPort } };
  const training: Config['training'] = {
    ...config.training,
    epochs: opts.trainEpochs ?? config.training.epochs,
  };
  const machines = '20';
  say(
    `topics: creating ${Object.values(config.topics).filter(Boolean).join(', ')} (4 partitions) on ${config.kafka.brokers.join(',')}`,
  );
  await createTopics(config, { partitions: 4, replication: 1 });
  const redis = openRedis(config);
  const current = await new ModelRegistry(redis, config.redis.prefix).currentVersion();
  redis.disconnect();
  const liveStart = new Date(Math.floor((Date.now() - 30 * DAY) / 3_600_000) * 3_600_000).toISOString();
  if (current) {
    say(`model ${current} already serving (from an earlier demo): skipping backfill and first training`);
  } else {
    const backfillStart = new Date(Date.parse(liveStart) - 30 * DAY).toISOString();
    say(
      `simulate: backfilling 30 days of ${machines} machines (${backfillStart.slice(0, 10)} → ${liveStart.slice(0, 10)})`,
    );
    say(
      `simulate: ${await runPdm(['simulate', '--machines', machines, '--seed', '7', '--start', backfillStart, '--history', '30d'], quiet)}`,
    );
    say('train: first model (pdm train --once; a few minutes on 2 cores; progress below)');
    const summary = JSON.parse(
      await runPdm(['train', '--once'], { ...quiet, logLevel: 'info', training }, (line) => {
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          if (e.msg === 'epoch')
            say(
              `train: epoch ${String(e.epoch)} loss ${Number(e.loss).toFixed(3)} val_loss ${Number(e.valLoss).toFixed(3)} val_pr_auc ${Number(e.valPrAuc).toFixed(3)} (${Number(e.seconds).toFixed(0)} s)`,
            );
          else if (e.msg === 'windows built' || e.msg === 'training')
            say(
              `train: ${String(e.msg)} ${JSON.stringify({ ...e, t: undefined, level: undefined, role: undefined, msg: undefined })}`,
            );
        } catch {
          /* not a log line */
        }
      }),
    ) as { version: string; metrics: Record<string, number>; threshold: number };
    say(
      `train: ${summary.version} promoted, threshold ${summary.threshold.toFixed(3)}, holdout PR-AUC ${summary.metrics.pr_auc?.toFixed(3)}, ROC-AUC ${summary.metrics.roc_auc?.toFixed(3)}, F1 ${summary.metrics.f1?.toFixed(3)}`,
    );
  }
  const kafka = createKafka(config);
  const watched = [config.topics.alerts, config.topics.dlq, config.topics.readings];
  const admin = kafka.admin();
  const observerGroup = `pdm-demo-observer-${process.pid}-${Date.now()}`;
  const observer = kafka.consumer({ groupId: observerGroup });
  await admin.connect();
  // Whatever happens below, the connections close: an open one would keep the process alive (until the
  // broker drops idle connections, 10 minutes later).
  try {
    // Count only what arrives from now on: the observer reads from the start of each topic (so nothing the
    // worker publishes before the observer joins its group is missed) and skips what was there already.
    // Just-created topics may not have elected their leaders yet: retry for a while.
    const startAt = await retry(() => watermarks(admin, watched), {
      maxDelayMs: 1_000,
      keepGoing: deadlineIn(30_000),
    });
    const tally = new DemoTally();
    const reached = new Map<string, number>();
    await observer.connect();
    await observer.subscribe({ topics: watched, fromBeginning: true });
    await observer.run({
      eachMessage: async ({ topic, partition, message }) => {
        reached.set(`${topic}/${partition}`, Number(message.offset) + 1);
        if (Number(message.offset) < (startAt.get(`${topic}/${partition}`) ?? 0)) return;
        if (topic === config.topics.readings) {
          tally.reading(message.key?.toString() ?? '');
          return;
        }
        if (topic === config.topics.dlq) {
          tally.deadLetter();
          const d = parseJson(message.value) as {
            topic?: string;
            offset?: string;
            error?: { code?: string; message?: string };
          };
          say(
            `DEAD-LETTER ${String(d.error?.code)} from ${String(d.topic)}@${String(d.offset)}: ${String(d.error?.message).slice(0, 100)}`,
          );
          return;
        }
        const a = parseJson(message.value) as unknown as SeenAlert;
        if (!tally.alert(a)) return;
        say(
          `ALERT ${String(a.state).padEnd(7)} ${a.machineId} at ${a.ts} score ${Number(a.score).toFixed(3)} (threshold ${Number(a.threshold).toFixed(3)}, model ${a.modelVersion})`,
        );
      },
    });
    const children: ChildProcess[] = [
      startPdm(['worker'], quiet),
      startPdm(['trainer'], {
        ...quiet,
        http: { host: '127.0.0.1', port: trainerPort },
        training: { ...training, retrainAfterFailures: 5 },
      }),
      // Joins the worker's alerts with the simulator's failures: the live recall, precision and lead time below.
      startPdm(['evaluator'], { ...quiet, http: { host: '127.0.0.1', port: evaluatorPort } }),
      startPdm(
        ['simulate', '--machines', machines, '--seed', '8', '--start', liveStart, '--rate', '20'],
        quiet,
      ),
    ];
    say(
      `worker:  http://127.0.0.1:${workerPort}/metrics  /readyz  /model  /machines/m-000  /machines?top=10  (pdm top)`,
    );
    say(`trainer: http://127.0.0.1:${trainerPort}/metrics`);
    say(
      `evaluator: http://127.0.0.1:${evaluatorPort}/model  (live recall, precision, lead time per version)`,
    );
    say(
      `live: 20 readings/s (one simulated hour per second); alerts appear below. ${opts.runForMs ? `Stops after ${opts.runForMs / 1000} s.` : 'Ctrl-C stops everything.'}`,
    );
    let last = { consumed: 0, at: Date.now() };
    const status = async () => {
      const m = await metric(workerPort, ['pdm_records_consumed_total', 'pdm_scores_total']);
      const model = (await getJson(workerPort, '/model')) as
        { version?: string; backend?: string } | undefined;
      const consumed = m.pdm_records_consumed_total ?? 0;
      const rate = ((consumed - last.consumed) / Math.max(1, Date.now() - last.at)) * 1000;
      last = { consumed, at: Date.now() };
      // The worker's own figures (per process) are labelled as such; every count after them is what this
      // demo read off the topics, the same messages the lines above print.
      const live = liveLine(await getJson(evaluatorPort, '/model'));
      return `model ${model?.version ?? '-'} (${model?.backend ?? '?'})  worker consumed ${consumed} (${rate.toFixed(0)}/s) scored ${m.pdm_scores_total ?? 0}  |  ${formatCounts(tally.counts())}${live ? `  |  ${live}` : ''}`;
    };
    const ticker = setInterval(() => void status().then((line) => say(`status: ${line}`)), 10_000);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      if (opts.runForMs) setTimeout(resolve, opts.runForMs).unref();
      for (const c of children)
        c.once('exit', (code) => code && say(`a child exited with ${code}; stopping`) && resolve());
    });
    say('stopping: simulator, evaluator, trainer, worker (draining)');
    clearInterval(ticker);
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 30_000).unref();
          }),
      ),
    );
    // Read what the drained worker published last, so the final counts cover every alert on the topic.
    const end = await retry(() => watermarks(admin, [config.topics.alerts, config.topics.dlq]), {
      maxDelayMs: 1_000,
      keepGoing: deadlineIn(15_000),
    });
    const deadline = Date.now() + 15_000;
    while (
      Date.now() < deadline &&
      [...end].some(([tp, high]) => (reached.get(tp) ?? startAt.get(tp) ?? 0) < high)
    )
      await new Promise((r) => setTimeout(r, 100));
    say(`final: ${formatCounts(tally.counts())}`);
    say('stopped. Kafka and Redis keep running: `npx pdm stack down` stops them.');
    return 0;
  } finally {
    // Bounded: a broker that stopped answering must not keep the demo from exiting.
    await settleWithin(observer.disconnect(), 10_000);
    await settleWithin(admin.deleteGroups([observerGroup]), 10_000); // a throw-away group: leave nothing behind
    await settleWithin(admin.disconnect(), 10_000);
  }
}

/** The serving version's live figures from the evaluator's `/model` (one line), '' before any decision. */
function liveLine(view: Record<string, unknown> | undefined): string {
  const versions = (view?.versions ?? []) as readonly LiveFigures[];
  const v = versions.find((x) => x.version === view?.serving);
  if (!v || v.detected + v.missed + v.trueAlarms + v.falseAlarms === 0) return '';
  return `${v.version} ${formatLive(v)}`;
}

/** "topic/partition" → high watermark (the next offset). */
async function watermarks(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const topic of topics)
    for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}/${p.partition}`, Number(p.high));
  return out;
}

function deadlineIn(ms: number): () => boolean {
  const until = Date.now() + ms;
  return () => Date.now() < until;
}

function settleWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, ms).unref()),
  ]);
}

function parseJson(value: Buffer | null): Record<string, unknown> {
  try {
    return JSON.parse(value?.toString() ?? '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
}
