import { performance } from 'node:perf_hooks';

/**
 * Lets the event loop run timers, I/O and other partitions' batches before the caller continues: long
 * synchronous work is cut into bounded slices with one of these between them.
 */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Cuts a long loop over records into slices of about `budgetMs` of work each, letting the event loop run
 * between them. Why time and not a count: the same records cost ten times more on a loaded box, and what
 * must stay bounded is the time a timer (the heartbeat, the metrics' loop-delay probe) waits. Several
 * batches slice at once (one per partition in flight), so each slice is kept short.
 *
 *   const slicer = new Slicer();
 *   for (const r of records) { if (slicer.due()) await slicer.yield(); … }
 */
export class Slicer {
  private started = performance.now();
  private count = 0;

  constructor(
    private readonly budgetMs = SLICE_BUDGET_MS,
    /** Runs at each yield, after the loop ran (the consumer's heartbeat). */
    private readonly onYield?: () => Promise<unknown>,
  ) {}

  /** Call once per item: whether the slice's budget is spent (the clock is read every 16 items). */
  due(): boolean {
    return (++this.count & 15) === 0 && performance.now() - this.started >= this.budgetMs;
  }

  /** Lets the event loop run, then the `onYield` hook, and starts a new slice. */
  async yield(): Promise<void> {
    await yieldToLoop();
    await this.onYield?.();
    this.started = performance.now();
  }
}

/** The work between two yields of a Slicer. 10 ms: eight partitions' batches slicing at once stay under 0.1 s. */
export const SLICE_BUDGET_MS = 10;
