import type { Consumer } from 'kafkajs';
import type { Logger } from '../log';

/** What a consumer's events say about it, for /healthz and /readyz. */
export interface ConsumerLiveness {
  /** False once the consumer crashed and kafkajs will not restart it: the process is useless until restarted. */
  healthy(): boolean;
  /** Why the consumer cannot do its work now (empty when it can). */
  reasons(): string[];
}

/**
 * Follows a consumer through its instrumentation events: in its group (GROUP_JOIN until REBALANCING or a
 * crash), in contact with the broker (a heartbeat or fetch answered within the session timeout), and dead
 * (a crash kafkajs does not restart). A constant "healthy" would let an orchestrator keep a process
 * whose consumer is gone.
 */
export function watchConsumer(
  consumer: Consumer,
  sessionTimeoutMs: number,
  logger: Logger,
  now: () => number = Date.now,
  /** Called once the consumer is dead for good (instead of logging it), e.g. to fail the process. */
  onDead?: (error: Error) => void,
): ConsumerLiveness {
  let inGroup = false;
  let lastContact = 0;
  let dead: string | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    inGroup = true;
    lastContact = now();
  });
  const contact = () => {
    lastContact = now();
  };
  consumer.on(consumer.events.HEARTBEAT, contact);
  consumer.on(consumer.events.FETCH, contact);
  consumer.on(consumer.events.REBALANCING, () => {
    inGroup = false;
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    inGroup = false;
    if (payload.restart) {
      logger.warn('consumer crashed; kafkajs restarts it', { error: payload.error.message });
      return;
    }
    dead = payload.error.message;
    if (onDead) onDead(new Error(`consumer crashed and will not restart: ${dead}`));
    else logger.error('consumer crashed and will not restart', { error: dead });
  });
  return {
    healthy: () => dead === undefined,
    reasons: () => {
      if (dead !== undefined) return [`consumer crashed and will not restart: ${dead}`];
      if (!inGroup) return ['consumer not in its group'];
      if (now() - lastContact > sessionTimeoutMs)
        return ['no heartbeat or fetch answered by the broker within the session timeout'];
      return [];
    },
  };
}
