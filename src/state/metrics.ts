import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from '../log';
import type { CheckpointRefusal } from './checkpoint';

const REFUSED = 'pdm_checkpoint_refused_total';

/**
 * Counts and logs refused (stale) checkpoint writes: `pdm_checkpoint_refused_total{role}`. Created on the
 * worker's registry, once per registry (a second call finds it).
 */
export function checkpointRefusals(registry: Registry, logger: Logger): (refusal: CheckpointRefusal) => void {
  const counter =
    (registry.getSingleMetric(REFUSED) as Counter<'role'> | undefined) ??
    new Counter({
      name: REFUSED,
      help: 'Checkpoint writes refused because they would move a machine applied offset backwards (a stale writer)',
      labelNames: ['role'],
      registers: [registry],
    });
  return (refusal) => {
    counter.inc({ role: refusal.role });
    logger.warn('stale checkpoint write refused: a newer owner checkpointed this machine further', {
      stage: 'checkpoint',
      ...refusal,
    });
  };
}

const REUSED = 'pdm_decisions_reused_total';

/**
 * Counts redelivered readings decided from the decision journal rather than scored afresh:
 * `pdm_decisions_reused_total` (a crash between a batch's sends and its checkpoint, then its redelivery).
 * Created on the worker's registry, once per registry.
 */
export function decisionReuses(registry: Registry): () => void {
  const counter =
    (registry.getSingleMetric(REUSED) as Counter | undefined) ??
    new Counter({
      name: REUSED,
      help: 'Redelivered readings whose alert decision was taken from the decision journal, not scored again',
      registers: [registry],
    });
  return () => counter.inc();
}
