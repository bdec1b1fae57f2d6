import type { Logger } from '../log';

/** How a long-lived process learns it must stop: a signal, or a fatal failure its service reports. */
export class StopLatch {
  failed: Error | undefined;
  private wake: () => void = () => undefined;
  readonly done = new Promise<void>((resolve) => (this.wake = resolve));

  /** Pass to the service as its failure callback: stops the process with exit code 1. */
  readonly fail = (error: Error): void => {
    this.failed = error;
    this.wake();
  };

  readonly stop = (): void => this.wake();
}

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `service` until SIGTERM/SIGINT or a failure reported through `latch`, then drains it and closes its
 * HTTP server. Only this function touches signals: a first one drains within `shutdownTimeoutMs`; a second
 * signal or a missed deadline exits 1. Returns 1 when the service failed (so an orchestrator restarts it).
 */
export async function runUntilStopped(
  name: string,
  service: Service,
  latch: StopLatch,
  http: { close(): Promise<void> },
  shutdownTimeoutMs: number,
  logger: Logger,
): Promise<number> {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.error('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('draining', { signal, timeoutMs: shutdownTimeoutMs });
    latch.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await service.start();
  } catch (error) {
    latch.failed = error as Error;
    logger.error(`${name} could not start`, { error: latch.failed.message });
  }
  if (!latch.failed) await latch.done;
  const deadline = setTimeout(() => {
    logger.error('shutdown deadline missed: exiting', { timeoutMs: shutdownTimeoutMs });
    process.exit(1);
  }, shutdownTimeoutMs);
  deadline.unref();
  await service.stop();
  await http.close();
  clearTimeout(deadline);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  logger.info('stopped', { failed: latch.failed?.message ?? null });
  return latch.failed ? 1 : 0;
}
