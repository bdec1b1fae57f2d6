import type { Registry } from 'prom-client';
import { fleetEntry, rankFleet } from '../fleet';
import type { FleetEntry, FleetView } from '../fleet';
import type { HttpHandlers } from '../http/server';
import { backendName } from '../model/tf';
import type { LiveFigures } from '../evaluate/tally';
import type { ModelMeta } from '../registry';
import type { MachineState, MachineStore } from '../state';
import { iso } from './messages';
import type { CheckpointPort } from './ports';

/** `GET /machines/:id`. */
export interface MachineView {
  machineId: string;
  lastTs: string | null;
  windowFill: number;
  score: number | null;
  scoredTs: string | null;
  modelVersion: string | null;
  alert: 'raised' | 'clear';
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** What the HTTP views read from a worker: its memory, its checkpoints, its model and its lag. Read only. */
export interface WorkerViewSource {
  readonly store: Pick<MachineStore, 'get' | 'ids' | 'size'>;
  readonly checkpoints: Pick<CheckpointPort, 'load'>;
  readonly model: () => ModelMeta | undefined;
  /** The shadow version this worker scores beside the serving one (champion/challenger), if any. */
  readonly shadow?: () => ModelMeta | undefined;
  /** The live figures `pdm evaluator` keeps in Redis per version; empty when no evaluator runs. */
  readonly live: () => Promise<ReadonlyMap<string, LiveFigures>>;
  readonly lag: () => readonly { topic: string; partition: number; lag: number }[];
  readonly readingsTopic: string;
  readonly window: number;
}

/** A machine from memory, else from its checkpoint (another worker may own it); undefined when unknown. */
export async function machineView(
  src: WorkerViewSource,
  machineId: string,
): Promise<MachineView | undefined> {
  const state: MachineState | undefined =
    src.store.get(machineId) ?? (await src.checkpoints.load([machineId])).get(machineId);
  if (!state) return undefined;
  const last = state.readings.at(-1);
  return {
    machineId,
    lastTs: last ? iso(last.ts) : null,
    windowFill: state.readings.length / src.window,
    score: state.lastScore?.score ?? null,
    scoredTs: state.lastScore ? iso(state.lastScore.ts) : null,
    modelVersion: state.lastScore?.modelVersion ?? null,
    alert: state.alert.state,
  };
}

/** `GET /machines?top=N`: the N machines in memory with the highest current score, and this worker's lag and model. */
export function fleetView(src: WorkerViewSource, top: number): FleetView {
  const meta = src.model();
  const entries: FleetEntry[] = [];
  for (const id of src.store.ids()) {
    const state = src.store.get(id);
    const entry = state && fleetEntry(state, meta?.threshold);
    if (entry) entries.push(entry);
  }
  const lag: Record<string, number> = { readings: 0, logs: 0 };
  for (const e of src.lag()) {
    const role = e.topic === src.readingsTopic ? 'readings' : 'logs';
    lag[role] = (lag[role] ?? 0) + e.lag;
  }
  return {
    modelVersion: meta?.version ?? null,
    threshold: meta?.threshold ?? null,
    lag,
    tracked: src.store.size,
    machines: rankFleet(entries, top),
  };
}

/**
 * `GET /model`: the serving version's metadata without its scaler arrays, the backend in use, and `live`, the
 * version's live figures as `pdm evaluator` decided them so far (null when no evaluator has any for it).
 */
export function modelView(
  meta: ModelMeta | undefined,
  live?: ReadonlyMap<string, LiveFigures>,
  shadow?: ModelMeta,
): Record<string, unknown> {
  if (!meta) return { version: null, threshold: null, backend: backendName(), ready: false };
  const { scaler: _scaler, hash, ...rest } = meta;
  // The challenger in brief: what `pdm model compare` sets side by side (its full metadata: `pdm model list`).
  const challenger = shadow && {
    version: shadow.version,
    threshold: shadow.threshold,
    createdAt: shadow.createdAt,
    live: live?.get(shadow.version) ?? null,
  };
  return {
    ...rest,
    hash,
    backend: backendName(),
    live: live?.get(meta.version) ?? null,
    shadow: challenger ?? null,
  };
}

/** The live figures, or none when Redis cannot answer now: `/model` must not fail for want of them. */
async function liveOrNone(src: WorkerViewSource): Promise<ReadonlyMap<string, LiveFigures> | undefined> {
  try {
    return await src.live();
  } catch {
    return undefined;
  }
}

/** The worker as its HTTP face sees it. */
export interface WorkerFace {
  readonly state: string;
  readiness(): Readiness;
  readonly view: WorkerViewSource;
}

/** The worker's HTTP handlers: `pdm worker` and the tests wire the same ones. */
export function workerHandlers(worker: WorkerFace, registry: Registry): HttpHandlers {
  return {
    registry,
    healthy: () => worker.state !== 'failed',
    ready: () => worker.readiness(),
    machine: (id) => machineView(worker.view, id),
    fleet: (top) => fleetView(worker.view, top),
    model: async () => modelView(worker.view.model(), await liveOrNone(worker.view), worker.view.shadow?.()),
  };
}
