import type { Config } from '../config';
import { startHttp } from '../http/server';
import { createLogger } from '../log';
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
  let failed: Error | undefined;
  let wake: () => void = () => undefined;
  const done = new Promise<void>((r) => (wake = r));
  const evaluator = new Evaluator(config, logger, metrics, (error) => {
    failed = error;
    wake();
  });
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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.error('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('draining', { signal });
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await evaluator.start();
  } catch (error) {
    failed = error as Error;
    logger.error('evaluator could not start', { error: failed.message });
  }
  if (!failed) await done;
  const deadline = setTimeout(() => {
    logger.error('shutdown deadline missed: exiting', { timeoutMs: config.shutdownTimeoutMs });
    process.exit(1);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await evaluator.stop();
  await http.close();
  clearTimeout(deadline);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  logger.info('stopped', { failed: failed?.message ?? null });
  return failed ? 1 : 0;
}
