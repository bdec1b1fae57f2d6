import type { LedgerEvent } from './ledger';

/** What the live evaluation has counted for one model version. */
export interface VersionCounts {
  detected: number;
  missed: number;
  trueAlarms: number;
  falseAlarms: number;
  /** Machine-time observed (readings' event time) while this version was serving, milliseconds. */
  exposureMs: number;
}

/** The figures derived from the counts; null where the denominator is still zero. */
export interface LiveFigures extends VersionCounts {
  readonly version: string;
  readonly recall: number | null;
  readonly precision: number | null;
  readonly falseAlarmsPerMachineDay: number | null;
  /** Median lead time of the detected failures, seconds. */
  readonly leadTimeP50Seconds: number | null;
}

const DAY_MS = 86_400_000;

export function emptyCounts(): VersionCounts {
  return { detected: 0, missed: 0, trueAlarms: 0, falseAlarms: 0, exposureMs: 0 };
}

export function figures(version: string, c: VersionCounts, leadSeconds: readonly number[]): LiveFigures {
  const sorted = [...leadSeconds].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const p50 =
    sorted.length === 0
      ? null
      : sorted.length % 2
        ? sorted[Math.floor(mid)]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    version,
    ...c,
    recall: c.detected + c.missed > 0 ? c.detected / (c.detected + c.missed) : null,
    precision: c.trueAlarms + c.falseAlarms > 0 ? c.trueAlarms / (c.trueAlarms + c.falseAlarms) : null,
    falseAlarmsPerMachineDay: c.exposureMs > 0 ? c.falseAlarms / (c.exposureMs / DAY_MS) : null,
    leadTimeP50Seconds: p50,
  };
}

/**
 * The counts per version and the ignored records per topic and reason: the evaluator's output, persisted
 * whole after every batch (it is small: a few numbers per version), so a restart resumes them exactly.
 */
export class Tally {
  readonly versions = new Map<string, VersionCounts>();
  readonly ignored = new Map<string, number>();
  /** Lead times (seconds) recorded since the last takeNewLeads(), per version: appended to the store's lists. */
  private newLeads = new Map<string, number[]>();

  static fromJSON(json: unknown): Tally {
    const t = new Tally();
    const doc = (json ?? {}) as {
      versions?: Record<string, VersionCounts>;
      ignored?: Record<string, number>;
    };
    for (const [v, c] of Object.entries(doc.versions ?? {})) t.versions.set(v, { ...emptyCounts(), ...c });
    for (const [k, n] of Object.entries(doc.ignored ?? {})) t.ignored.set(k, n);
    return t;
  }

  toJSON(): { versions: Record<string, VersionCounts>; ignored: Record<string, number> } {
    return { versions: Object.fromEntries(this.versions), ignored: Object.fromEntries(this.ignored) };
  }

  counts(version: string): VersionCounts {
    let c = this.versions.get(version);
    if (!c) {
      c = emptyCounts();
      this.versions.set(version, c);
    }
    return c;
  }

  apply(events: readonly LedgerEvent[]): void {
    for (const e of events) {
      if (e.kind === 'ignored') {
        const key = `${e.topic}|${e.reason}`;
        this.ignored.set(key, (this.ignored.get(key) ?? 0) + 1);
        continue;
      }
      const c = this.counts(e.version);
      if (e.kind === 'detected') {
        c.detected++;
        const leads = this.newLeads.get(e.version) ?? [];
        leads.push(e.leadMs / 1000);
        this.newLeads.set(e.version, leads);
      } else if (e.kind === 'missed') c.missed++;
      else if (e.kind === 'true_alarm') c.trueAlarms++;
      else if (e.kind === 'false_alarm') c.falseAlarms++;
      else c.exposureMs += e.ms;
    }
  }

  takeNewLeads(): Map<string, number[]> {
    const out = this.newLeads;
    this.newLeads = new Map();
    return out;
  }
}

/** One line for `pdm model list`: the live figures under the version's holdout figures. */
export function formatLive(f: LiveFigures): string {
  const n = (x: number | null, digits = 3) => (x === null ? 'n/a' : x.toFixed(digits));
  const lead = f.leadTimeP50Seconds === null ? 'n/a' : `${(f.leadTimeP50Seconds / 3600).toFixed(1)}h`;
  return `live: recall ${n(f.recall)} (${f.detected}/${f.detected + f.missed})  precision ${n(f.precision)} (${f.trueAlarms}/${f.trueAlarms + f.falseAlarms})  false alarms/machine-day ${n(f.falseAlarmsPerMachineDay, 4)}  lead p50 ${lead}`;
}

/**
 * `pdm model compare`: the champion's and the shadow's live figures side by side, one row per figure. A
 * version the evaluator has not decided anything for yet shows n/a (its counts are all zero).
 */
export function formatCompare(
  champion: string,
  shadow: string | undefined,
  live: ReadonlyMap<string, LiveFigures>,
): string {
  const columns = [champion, ...(shadow ? [shadow] : [])].map(
    (v) => live.get(v) ?? figures(v, emptyCounts(), []),
  );
  const n = (x: number | null, digits = 3) => (x === null ? 'n/a' : x.toFixed(digits));
  const rows: [string, (f: LiveFigures) => string][] = [
    ['recall', (f) => `${n(f.recall)} (${f.detected}/${f.detected + f.missed})`],
    ['precision', (f) => `${n(f.precision)} (${f.trueAlarms}/${f.trueAlarms + f.falseAlarms})`],
    ['false alarms/machine-day', (f) => n(f.falseAlarmsPerMachineDay, 4)],
    [
      'lead time p50',
      (f) => (f.leadTimeP50Seconds === null ? 'n/a' : `${(f.leadTimeP50Seconds / 3600).toFixed(1)}h`),
    ],
    ['labelled failures seen', (f) => String(f.detected + f.missed)],
    ['machine-days observed', (f) => (f.exposureMs / 86_400_000).toFixed(1)],
  ];
  const head = ['', `champion ${champion}`, ...(shadow ? [`shadow ${shadow}`] : [])];
  const table = [head, ...rows.map(([label, cell]) => [label, ...columns.map(cell)])];
  const widths = head.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const lines = table.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  if (!shadow) lines.push('(no shadow set: `pdm model shadow <version>`)');
  return lines.join('\n');
}
