import { isRetriable } from '../errors';

/**
 * The one retry helper: capped exponential backoff with full jitter, cancellable (by an AbortSignal or a
 * `keepGoing` check such as "the batch is still ours"). An error that says `retriable: false` (ours, or
 * kafkajs's) and programmer errors are never retried.
 */
export interface RetryOptions {
  readonly initialMs?: number;
  readonly maxDelayMs?: number;
  readonly signal?: AbortSignal;
  /** Checked before every new attempt; false stops retrying and rethrows the last error. */
  readonly keepGoing?: () => boolean;
  readonly onRetry?: (error: Error, attempt: number, delayMs: number) => void | Promise<void>;
}

export async function retry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const initial = opts.initialMs ?? 100;
  const cap = opts.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetriable(error) || opts.signal?.aborted || (opts.keepGoing && !opts.keepGoing())) throw error;
      const delay = Math.random() * Math.min(cap, initial * 2 ** (attempt - 1));
      await opts.onRetry?.(error as Error, attempt, delay);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        opts.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
}
