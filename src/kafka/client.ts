import { Kafka, logLevel } from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../log';
import { kafkaSecurity } from './security';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** One kafkajs client per process, its log routed into ours. */
export function createKafka(config: Config, logger?: Logger, clientSuffix = ''): Kafka {
  return new Kafka({
    clientId: `${config.kafka.clientId}${clientSuffix}`,
    brokers: [...config.kafka.brokers],
    ...kafkaSecurity(config),
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...meta } = entry.log;
      // Rebalances and a coordinator that is still loading answer with errors that kafkajs logs at ERROR
      // level and then retries: routine, so they go to debug.
      const routine = typeof meta.error === 'string' && /rebalancing|coordinator is loading|not the correct coordinator/i.test(meta.error);
      const level = routine ? 'debug' : (LEVELS[entry.level] ?? 'info');
      logger.child({ stage: 'kafka', ns: entry.namespace })[level](String(message), meta);
    },
    retry: { initialRetryTime: 300, retries: 8 },
  });
}
