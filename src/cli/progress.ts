import type { Logger } from '../log';

/**
 * Progress for long work in a terminal: one line redrawn in place (`\r`), with finished epochs committed as
 * lines of their own. Only used when stdout is a TTY; piped, the commands keep their JSON lines.
 */

/** Per-batch training progress, the shape `trainOnce`'s `onProgress` option reports (a copy: cli does not import train internals). */
export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  /** Windows done in this epoch, of `total`. */
  readonly done: number;
  readonly total: number;
  /** Seconds since this epoch began. */
  readonly seconds: number;
}

/** What the trainer logs at the end of an epoch (`msg: 'epoch'`). */
export interface EpochResult {
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss: number;
  readonly valPrAuc: number | null;
  readonly seconds: number;
}

export interface Terminal {
  write(text: string): unknown;
  readonly columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-:--';
  const s = Math.round(seconds);
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return hms[0]
    ? `${hms[0]}:${String(hms[1]).padStart(2, '0')}:${String(hms[2]).padStart(2, '0')}`
    : `${hms[1]}:${String(hms[2]).padStart(2, '0')}`;
}

export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** One line redrawn in place; `commit` prints a line that stays above it. */
export class ProgressLine {
  private shown = false;
  constructor(private readonly out: Terminal) {}

  draw(text: string): void {
    const width = Math.max(20, (this.out.columns ?? 120) - 1);
    this.out.write(`\r${text.slice(0, width)}\x1b[K`);
    this.shown = true;
  }

  commit(text: string): void {
    this.out.write(`${this.shown ? '\r\x1b[K' : ''}${text}\n`);
    this.shown = false;
  }

  /** Leaves the line (before something else writes to the terminal). */
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

/**
 * A logger that hands info events to `handle` (which returns true when it rendered one) and passes the rest
 * on, clearing the progress line first so that a log line never lands in the middle of it.
 */
export function interceptingLogger(
  base: Logger,
  line: ProgressLine,
  handle: (message: string, meta: Record<string, unknown> | undefined) => boolean,
): Logger {
  const pass =
    (inner: Logger, level: 'info' | 'warn' | 'error') =>
    (m: string, meta?: Record<string, unknown>): void => {
      line.clear();
      inner[level](m, meta);
    };
  const wrap = (inner: Logger): Logger => ({
    debug: (m, meta) => inner.debug(m, meta),
    info: (m, meta) => {
      if (!handle(m, meta)) pass(inner, 'info')(m, meta);
    },
    warn: pass(inner, 'warn'),
    error: pass(inner, 'error'),
    child: (bindings) => wrap(inner.child(bindings)),
  });
  return wrap(base);
}

/** The training line: epoch, windows done, rate, ETA over the remaining epochs, last validation PR-AUC. */
export function trainLine(p: TrainProgress, lastPrAuc: number | null | undefined): string {
  const rate = p.seconds > 0 ? p.done / p.seconds : 0;
  const remaining = p.total - p.done + (p.epochs - p.epoch) * p.total;
  const eta = rate > 0 ? formatDuration(remaining / rate) : '-:--';
  const auc =
    lastPrAuc === undefined ? '' : `  val PR-AUC ${lastPrAuc === null ? 'n/a' : lastPrAuc.toFixed(3)}`;
  return `train  epoch ${p.epoch}/${p.epochs} ${bar(p.total ? p.done / p.total : 0)} ${count(p.done)}/${count(p.total)} windows  ${count(rate)}/s  ETA ${eta}${auc}`;
}

export function epochLine(e: EpochResult, epochs: number): string {
  return `train  epoch ${e.epoch}/${epochs} done in ${e.seconds.toFixed(1)} s  loss ${e.loss.toFixed(4)}  val_loss ${e.valLoss.toFixed(4)}  val PR-AUC ${e.valPrAuc === null ? 'n/a' : e.valPrAuc.toFixed(3)}`;
}

/**
 * Training progress in a terminal. `batch` is the per-batch hook (trainOnce's `onProgress`); the end of
 * each epoch (validation PR-AUC) comes from the trainer's own log events (`training`, `epoch`), which
 * `logger()` intercepts.
 */
export class TrainProgressView {
  private windows = 0;
  private lastPrAuc: number | null | undefined;
  private epochSeconds: number[] = [];

  constructor(
    private readonly line: ProgressLine,
    private readonly epochs: number,
  ) {}

  readonly batch = (p: TrainProgress): void => {
    this.line.draw(trainLine(p, this.lastPrAuc));
  };

  private epoch(e: EpochResult): void {
    this.lastPrAuc = e.valPrAuc;
    this.epochSeconds.push(e.seconds);
    this.line.commit(epochLine(e, this.epochs));
    if (e.epoch < this.epochs && this.windows > 0) {
      // No per-batch events: show the next epoch as started, its rate and ETA from the epochs so far.
      const mean = this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length;
      const rate = this.windows / Math.max(mean, 1e-9);
      this.line.draw(
        `train  epoch ${e.epoch + 1}/${this.epochs} ${bar(0)} 0/${count(this.windows)} windows  ${count(rate)}/s  ETA ${formatDuration(mean * (this.epochs - e.epoch))} (at most; early stopping may end sooner)  val PR-AUC ${e.valPrAuc === null ? 'n/a' : e.valPrAuc.toFixed(3)}`,
      );
    }
  }

  /** A logger that renders the trainer's progress events and passes everything else on. */
  logger(base: Logger): Logger {
    return interceptingLogger(base, this.line, (m, meta) => {
      if (m === 'training' && typeof meta?.train === 'number') {
        this.windows = meta.train;
        this.line.commit(
          `train  ${count(meta.train)} windows (${String(meta.trainPositives)} positive), validation ${String(meta.validation)}, holdout ${String(meta.holdout)}, backend ${String(meta.backend)}`,
        );
        this.line.draw(`train  epoch 1/${this.epochs} ${bar(0)} 0/${count(this.windows)} windows  ETA -:--`);
        return true;
      }
      if (m === 'epoch' && meta) {
        this.epoch(meta as unknown as EpochResult);
        return true;
      }
      return false;
    });
  }

  done(): void {
    this.line.clear();
  }
}

/** The backfill line of `pdm simulate`: event time covered, readings sent, rate, ETA. */
export function backfillLine(p: {
  from: number;
  to: number;
  at: number;
  readings: number;
  readingsPerSecond: number;
  elapsedSeconds: number;
}): string {
  const fraction = (p.at - p.from) / Math.max(1, p.to - p.from);
  const eta = fraction > 0 ? formatDuration((p.elapsedSeconds * (1 - fraction)) / fraction) : '-:--';
  return `simulate  backfill ${bar(fraction)} ${(Math.min(1, fraction) * 100).toFixed(0)}%  event time ${new Date(p.at).toISOString().slice(0, 13)}h  readings ${count(p.readings)}  ${count(p.readingsPerSecond)}/s  ETA ${eta}`;
}

/** A logger for `pdm simulate` in a terminal: its backfill progress events become one redrawn line. */
export function simulateProgressLogger(
  base: Logger,
  line: ProgressLine,
  now: () => number = Date.now,
): Logger {
  let span: { from: number; to: number; began: number } | undefined;
  return interceptingLogger(base, line, (m, meta) => {
    if (m === 'backfill' && typeof meta?.from === 'string' && typeof meta.to === 'string') {
      span = { from: Date.parse(meta.from), to: Date.parse(meta.to), began: now() };
      line.commit(`simulate  backfill ${String(meta.machines)} machines, ${meta.from} → ${meta.to}`);
      return true;
    }
    if (m === 'progress' && meta?.phase === 'backfill' && span && typeof meta.eventTime === 'string') {
      line.draw(
        backfillLine({
          ...span,
          at: Date.parse(meta.eventTime),
          readings: Number(meta.readings),
          readingsPerSecond: Number(meta.readingsPerSecond),
          elapsedSeconds: (now() - span.began) / 1000,
        }),
      );
      return true;
    }
    return false;
  });
}

/**
 * What `pdm train --once` hands the trainer: in a terminal, a logger that renders progress and a per-batch
 * `onProgress` hook; piped, the plain logger (JSON lines) and no hook.
 */
export function trainProgressHooks(
  base: Logger,
  out: Terminal & { readonly isTTY?: boolean },
  epochs: number,
): { logger: Logger; onProgress: ((p: TrainProgress) => void) | undefined; done: () => void } {
  if (out.isTTY !== true) return { logger: base, onProgress: undefined, done: () => undefined };
  const view = new TrainProgressView(new ProgressLine(out), epochs);
  return { logger: view.logger(base), onProgress: view.batch, done: () => view.done() };
}
