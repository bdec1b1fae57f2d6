/** Group-membership errors that kafkajs's consumer answers by rejoining the group (its runner reads `type`). */
const REJOIN_TYPES = new Set([
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

/**
 * The error to throw from `eachBatch` so that kafkajs rejoins the group when it should. Why: kafkajs's
 * retrier wraps a non-retriable error in KafkaJSNonRetriableError, which keeps the message and the cause
 * but not the `type`. Thrown as is, a wrapped "unknown member" (a commit after this member stalled past its
 * session timeout) crashed the consumer for good instead of rejoining (the broker-stall fault test). The
 * typed error is found along the `cause` chain; anything else is returned unchanged.
 */
export function rejoinable(error: unknown): unknown {
  let e = error;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && REJOIN_TYPES.has(type)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return error;
}
