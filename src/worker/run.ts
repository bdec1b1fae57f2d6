import type { Config } from '../config';
import { startHttp } from '../http/server';
import { createLogger } from '../log';
import { createMetrics } from '../metrics';
import { backendName } from '../model/tf';
import { workerHandlers } from './views';
import { Worker } from './worker';

/**
 * `pdm worker`: the worker plus its HTTP server, until SIGTERM/SIGINT. Only this function touches
 * signals. A first signal drains within PDM_SHUTDOWN_TIMEOUT; a second signal or a missed deadline exits 1.
 * A consumer that crashed for good exits non-zero so that the orchestrator restarts the process.
 */
export async function runWorker(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel, { role: 'worker' });
  const metrics = createMetrics();
  if (backendName() !== 'tensorflow')
    logger.warn('NOT using the native TensorFlow backend: scoring will be slow', { backend: backendName() });
  let failed: Error | undefined;
  let wake: () => void = () => undefined;
  const done = new Promise<void>((r) => (wake = r));
  const worker = new Worker(config, logger, metrics, (error) => {
    failed = error;
    wake();
  });
  const http = await startHttp(workerHandlers(worker, metrics.registry), config.http.host, config.http.port);
  logger.info('http listening', {
    url: `http://${config.http.host}:${http.port}`,
    endpoints: ['/metrics', '/healthz', '/readyz', '/machines/:id', '/machines?top=N', '/model'],
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.error('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('draining', { signal, timeoutMs: config.shutdownTimeoutMs });
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await worker.start();
  } catch (error) {
    failed = error as Error;
    logger.error('worker could not start', { error: failed.message });
  }
  if (!failed) await done;
  const deadline = setTimeout(() => {
    logger.error('shutdown deadline missed: exiting', { timeoutMs: config.shutdownTimeoutMs });
    process.exit(1);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await worker.stop();
  await http.close();
  clearTimeout(deadline);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  logger.info('stopped', { failed: failed?.message ?? null });
  return failed ? 1 : 0;
}
