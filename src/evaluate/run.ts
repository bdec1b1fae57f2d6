import type { Config } from '../config';
import { startHttp } from '../http/server';
import { createLogger } from '../log';
import { runUntilStopped, StopLatch } from '../lifecycle';
import { createMetrics } from '../metrics';
import { Evaluator } from './evaluator';
import { createEvaluatorMetrics } from './metrics';

/**
 * `pdm evaluator`: the evaluator plus its HTTP server (/metrics, /healthz, /readyz, /model with the live
 * figures) until SIGTERM/SIGINT; a second signal or a missed PDM_SHUTDOWN_TIMEOUT exits 1. A consumer that
 * crashed for good exits non-zero so that the orchestrator restarts the process.
 */
export async function runEvaluator(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel, { role: 'evaluator' });
  const base = createMetrics();
  const metrics = createEvaluatorMetrics(base.registry);
  const latch = new StopLatch();
  const evaluator = new Evaluator(config, logger, metrics, latch.fail);
  const http = await startHttp(
    {
      registry: base.registry,
      healthy: () => evaluator.state !== 'failed',
      ready: () =>
        evaluator.state === 'running'
          ? { ready: true, reasons: [] }
          : { ready: false, reasons: [`evaluator ${evaluator.state}`] },
      model: () => evaluator.view(),
    },
    config.http.host,
    config.http.port,
  );
  logger.info('http listening', {
    url: `http://${config.http.host}:${http.port}`,
    endpoints: ['/metrics', '/healthz', '/readyz', '/model'],
  });
  return runUntilStopped('evaluator', evaluator, latch, http, config.shutdownTimeoutMs, logger);
}
