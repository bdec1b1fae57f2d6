import type { Config } from '../config';
import { startHttp } from '../http/server';
import { createLogger } from '../log';
import { runUntilStopped, StopLatch } from '../lifecycle';
import { createMetrics } from '../metrics';
import { backendName } from '../model/tf';
import { workerHandlers } from './views';
import { Worker } from './worker';

/**
 * `pdm worker`: the worker plus its HTTP server, until SIGTERM/SIGINT (runUntilStopped: a first signal
 * drains within PDM_SHUTDOWN_TIMEOUT; a second signal or a missed deadline exits 1).
 * A consumer that crashed for good exits non-zero so that the orchestrator restarts the process.
 */
export async function runWorker(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel, { role: 'worker' });
  const metrics = createMetrics();
  if (backendName() !== 'tensorflow')
    logger.warn('NOT using the native TensorFlow backend: scoring will be slow', { backend: backendName() });
  const latch = new StopLatch();
  const worker = new Worker(config, logger, metrics, latch.fail);
  const http = await startHttp(workerHandlers(worker, metrics.registry), config.http.host, config.http.port);
  logger.info('http listening', {
    url: `http://${config.http.host}:${http.port}`,
    endpoints: ['/metrics', '/healthz', '/readyz', '/machines/:id', '/machines?top=N', '/model'],
  });
  return runUntilStopped('worker', worker, latch, http, config.shutdownTimeoutMs, logger);
}
