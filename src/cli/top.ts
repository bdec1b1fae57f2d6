import type { Config } from '../config';
import { parseDuration } from '../config';
import { fleetEntry, MAX_TOP, rankFleet } from '../fleet';
import type { FleetEntry, FleetView } from '../fleet';
import { openRedis } from '../redis/client';
import { keyLayout } from '../redis/keys';
import { CheckpointStore } from '../state';
import type { FlagSpecs, ParsedArgs } from './args';
import { UsageError } from './args';

/** Where one part of the fleet view came from, and what it said (or why it said nothing). */
export interface SourceView {
  readonly source: string;
  readonly view?: FleetView;
  readonly error?: string;
}

export interface TopOptions {
  readonly workers: readonly string[];
  readonly fromRedis: boolean;
  readonly top: number;
  readonly intervalMs: number;
  readonly once: boolean;
}

/** The flags of `pdm top` (parsed by the CLI, validated by parseTopArgs). */
export const TOP_FLAGS: FlagSpecs = {
  workers: {
    type: 'string',
    value: 'URL,URL',
    default: 'http://PDM_HTTP_HOST:PDM_HTTP_PORT',
    help: 'workers to ask (GET /machines?top=N)',
  },
  redis: { type: 'boolean', help: 'read the Redis checkpoints instead (the whole fleet, no lag)' },
  top: { type: 'string', value: 'N', default: '20', help: `machines to show, 1…${MAX_TOP}` },
  interval: { type: 'string', value: 'D', default: '2s', help: 'refresh period (at least 200ms)' },
  once: { type: 'boolean', help: 'print one snapshot and exit (a pipe gets plain text either way)' },
};

export function parseTopArgs(args: ParsedArgs, config: Config): TopOptions {
  const f = args.flags;
  const top = Number(f.top ?? 20);
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP)
    throw new UsageError(`--top must be an integer in [1, ${MAX_TOP}], got "${f.top}"`);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(f.interval ?? '2s');
  } catch (error) {
    throw new UsageError(`--interval: ${(error as Error).message}`);
  }
  if (intervalMs < 200) throw new UsageError('--interval must be at least 200ms');
  const workers = (
    f.workers ??
    `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${config.http.port}`
  )
    .split(',')
    .map((w) => w.trim().replace(/\/+$/, ''))
    .filter(Boolean)
    .map((w) => (/^https?:\/\//.test(w) ? w : `http://${w}`));
  return { workers, fromRedis: f.redis === 'true', top, intervalMs, once: f.once === 'true' };
}

async function fromWorker(base: string, top: number): Promise<SourceView> {
  try {
    const res = await fetch(`${base}/machines?top=${top}`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return { source: base, error: `HTTP ${res.status}` };
    return { source: base, view: (await res.json()) as FleetView };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { source: base, error: cause ?? (error as Error).message };
  }
}

/** Reads the checkpoints every worker writes: the whole fleet, as of each machine's last checkpoint (no lag). */
async function fromRedis(config: Config, top: number): Promise<SourceView> {
  const redis = openRedis(config);
  const where = config.redis.cluster ? `cluster ${config.redis.cluster.seeds.join(',')}` : config.redis.url;
  const source = `${where.replace(/\/\/[^@,]*@/g, '//')} ${keyLayout(redis, config.redis.prefix).machinePattern('state')}`;
  try {
    const store = new CheckpointStore(redis, config.redis.prefix);
    const states = await store.load(await store.machineIds());
    const entries: FleetEntry[] = [];
    for (const state of states.values()) {
      const e = fleetEntry(state, undefined);
      if (e) entries.push(e);
    }
    const versions = [...new Set(entries.map((e) => e.modelVersion))];
    return {
      source,
      view: {
        modelVersion: versions.length === 1 ? versions[0]! : versions.length ? versions.join('+') : null,
        threshold: null,
        lag: {},
        tracked: states.size,
        machines: rankFleet(entries, top),
      },
    };
  } catch (error) {
    return { source, error: (error as Error).message };
  } finally {
    redis.disconnect();
  }
}

const pad = (text: string, width: number) =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);
const ago = (iso: string, now: number) => {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172_800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86_400)}d`;
};

/**
 * The fleet view as plain text: one line per source (model, lag, machines held), then the merged ranking.
 * Pure, so a test can pin it; the TTY mode only adds a screen clear before it.
 */
export function renderTop(sources: readonly SourceView[], top: number, now: number): string {
  const views = sources.flatMap((s) => (s.view ? [s.view] : []));
  const rows = rankFleet(
    views.flatMap((v) => v.machines),
    top,
  );
  const totalLag = views.reduce((n, v) => n + Object.values(v.lag).reduce((a, b) => a + b, 0), 0);
  const lines = [
    `pdm top  ${new Date(now).toISOString().slice(0, 19)}Z  sources ${views.length}/${sources.length}  machines held ${views.reduce((n, v) => n + v.tracked, 0)}  lag ${views.some((v) => Object.keys(v.lag).length) ? totalLag : '-'}`,
  ];
  for (const s of sources) {
    if (!s.view) lines.push(`  ${s.source}  unreachable: ${s.error ?? 'no answer'}`);
    else {
      const lag =
        Object.entries(s.view.lag)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ') || '-';
      const threshold = s.view.threshold === null ? '' : `  threshold ${s.view.threshold.toFixed(3)}`;
      lines.push(
        `  ${s.source}  model ${s.view.modelVersion ?? '-'}${threshold}  lag ${lag}  held ${s.view.tracked}`,
      );
    }
  }
  lines.push('');
  const header = ['#', 'MACHINE', 'SCORE', 'ALERT', 'VOTE', 'LAST ALERT', 'SCORED AT (event time)', 'MODEL'];
  const table = rows.map((r, i) => [
    String(i + 1),
    r.machineId,
    r.score.toFixed(3),
    r.alert === 'raised' ? 'RAISED' : 'clear',
    r.recentAbove === undefined ? '-' : String(r.recentAbove),
    r.lastAlert ? `${r.lastAlert.state} ${r.lastAlert.ts.slice(0, 16)}Z` : '-',
    `${r.scoredTs.slice(0, 16)}Z (${ago(r.scoredTs, now)} ago)`,
    r.modelVersion,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c]!.length)));
  lines.push(
    header
      .map((h, c) => pad(h, widths[c]!))
      .join('  ')
      .trimEnd(),
  );
  for (const row of table)
    lines.push(
      row
        .map((cell, c) => pad(cell, widths[c]!))
        .join('  ')
        .trimEnd(),
    );
  if (rows.length === 0) lines.push('  (no machine scored yet)');
  return lines.join('\n') + '\n';
}

/**
 * `pdm top`: the machines most at risk, merged across the workers it is pointed at (`--workers a,b`), or read
 * from the Redis checkpoints (`--redis`). In a terminal it redraws every `--interval`; piped, it prints plain
 * snapshots (`--once` for one). Stops on Ctrl-C or when `signal` aborts.
 */
export async function runTop(
  config: Config,
  opts: TopOptions,
  out: NodeJS.WriteStream,
  signal: AbortSignal,
): Promise<number> {
  const tty = out.isTTY === true;
  for (;;) {
    const sources = opts.fromRedis
      ? [await fromRedis(config, opts.top)]
      : await Promise.all(opts.workers.map((w) => fromWorker(w, opts.top)));
    const text = renderTop(sources, opts.top, Date.now());
    out.write(
      tty ? `\x1b[H\x1b[2J${text}\n(refresh ${opts.intervalMs / 1000}s, Ctrl-C quits)\n` : `${text}\n`,
    );
    if (opts.once || signal.aborted) return sources.some((s) => s.view) ? 0 : 3;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (signal.aborted) return 0;
  }
}
