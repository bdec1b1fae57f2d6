import type { AlertMessage } from '../alerts';

/** An alert as the demo prints it (the fields of the alerts topic it reads). */
export type SeenAlert = Omit<AlertMessage, 'emittedAt' | 'explain'>;

export interface TallyCounts {
  readonly raised: number;
  readonly cleared: number;
  /** Machines whose latest alert is `raised`. */
  readonly open: number;
  readonly deadLetters: number;
  /** Distinct machines seen on the readings topic. */
  readonly machines: number;
}

/**
 * The demo's one source of numbers: the status line and the printed lines both come from what the demo
 * itself read off the topics since it started, so they cannot disagree (the status line used to add up the
 * worker's metrics, which count per process and restart from zero, while the lines came from the topic).
 * Alerts are counted once per alertId: at-least-once delivery may repeat one, and a consumer drops it.
 */
export class DemoTally {
  private readonly alertIds = new Set<string>();
  private readonly machines = new Set<string>();
  private readonly openAlerts = new Set<string>();
  private raised = 0;
  private cleared = 0;
  private deadLetters = 0;

  /** Returns false for an alertId already counted (so the caller prints it once too). */
  alert(a: SeenAlert): boolean {
    if (this.alertIds.has(a.alertId)) return false;
    this.alertIds.add(a.alertId);
    if (a.state === 'raised') {
      this.raised++;
      this.openAlerts.add(a.machineId);
    } else {
      this.cleared++;
      this.openAlerts.delete(a.machineId);
    }
    return true;
  }

  deadLetter(): void {
    this.deadLetters++;
  }

  reading(machineId: string): void {
    this.machines.add(machineId);
  }

  counts(): TallyCounts {
    return {
      raised: this.raised,
      cleared: this.cleared,
      open: this.openAlerts.size,
      deadLetters: this.deadLetters,
      machines: this.machines.size,
    };
  }
}

/** The numbers part of the demo's status line; the headless test parses exactly this shape. */
export function formatCounts(c: TallyCounts): string {
  return `alerts raised ${c.raised} cleared ${c.cleared} open ${c.open}  dead-letters ${c.deadLetters}  machines ${c.machines}`;
}

export function parseCounts(line: string): TallyCounts | undefined {
  const m = /alerts raised (\d+) cleared (\d+) open (\d+) {2}dead-letters (\d+) {2}machines (\d+)/.exec(line);
  if (!m) return undefined;
  const [raised, cleared, open, deadLetters, machines] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { raised, cleared, open, deadLetters, machines };
}
