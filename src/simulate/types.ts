/** The simulated fleet's vocabulary and message shapes (docs/topics-and-messages.md), shared by fleet.ts and the CLI. */

export const SENSORS = ['volt', 'rotate', 'pressure', 'vibration'] as const;
export type Sensor = (typeof SENSORS)[number];

export const FAILURE_MODES = ['drift', 'noise', 'spikes', 'regime'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export type Signature = 'sensor' | 'log' | 'both';

export interface Reading {
  readonly machineId: string;
  readonly ts: string;
  readonly values: Readonly<Record<Sensor, number>>;
}

export interface MaintenanceLog {
  readonly machineId: string;
  readonly ts: string;
  readonly text: string;
}

export interface FailureEvent {
  readonly machineId: string;
  readonly ts: string;
  readonly component?: string;
}

export interface FleetTick {
  readonly readings: Reading[];
  readonly logs: MaintenanceLog[];
  readonly failures: FailureEvent[];
}

/** Ground truth about a machine's current (or next) failure, for tests and evaluation; not sent anywhere. */
export interface Episode {
  readonly machineId: string;
  /** Event time (epoch ms) at which degradation starts. */
  readonly degradeFrom: number;
  /** Event time (epoch ms) of the failure. */
  readonly failAt: number;
  readonly mode: FailureMode;
  readonly signature: Signature;
  /** The sensors that degrade (first one is the failing component's). */
  readonly sensors: readonly Sensor[];
  readonly component: string;
}

export interface FleetOptions {
  /** Number of machines, ids `m-000`, `m-001`, … (default 20). */
  readonly machines?: number;
  /** PRNG seed (default 1); the same options always give the same stream. */
  readonly seed?: number;
  /** Event time of the first reading, epoch ms, Date or ISO string (default 2026-01-01T00:00:00Z). */
  readonly start?: number | Date | string;
  /** Event time between two readings of a machine (default 1 h, 1 min … 6 h). */
  readonly stepMs?: number;
  /** Sensor degradation patterns to draw from (default all four). */
  readonly failureModes?: readonly FailureMode[];
  /** Length of the degradation period before a failure, drawn uniformly (default 24 h … 48 h). */
  readonly degradationMs?: { readonly min: number; readonly max: number };
  /** Mean time between failures of a machine with an average hazard (default 12 d). */
  readonly mtbfMs?: number;
  /** Shortest healthy run after a repair before the next degradation may start (default 48 h). */
  readonly minHealthyMs?: number;
  /** Relative weights of the episode signatures (default sensor .35, log .35, both .3). */
  readonly signatureMix?: Readonly<Partial<Record<Signature, number>>>;
}

export interface Fleet {
  readonly machineIds: readonly string[];
  readonly stepMs: number;
  /** Event time (epoch ms) of the readings the next `tick()` returns. */
  readonly nextTs: number;
  /** Advances event time by one step. */
  tick(): FleetTick;
  /** Each machine's current or upcoming failure episode (ground truth). */
  episodes(): readonly Episode[];
}
