import { Kafka, logLevel } from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../log';
import { kafkaSecurity } from './security';
import { KafkaConnectGuard } from '../connect';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** One kafkajs client per process, its log routed into ours. */
export function createKafka(config: Config, logger?: Logger, clientSuffix = ''): Kafka {
  // An untrusted certificate or a TLS-only port fails at once instead of after kafkajs' retries (src/connect).
  const guard = new KafkaConnectGuard(config.kafka.brokers);
  return guard.guard(
    new Kafka({
      clientId: `${config.kafka.clientId}${clientSuffix}`,
      brokers: guard.brokers,
      socketFactory: guard.socketFactory,
      ...kafkaSecurity(config),
      logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
      logCreator: () => (entry: LogEntry) => {
        if (!logger) return;
        const { message, ...meta } = entry.log;
        // Rebalances and a coordinator that is still loading answer with errors that kafkajs logs at ERROR
        // level and then retries: routine, so they go to debug.
        const routine =
          typeof meta.error === 'string' &&
          /rebalancing|coordinator is loading|not the correct coordinator/i.test(meta.error);
        const level = routine ? 'debug' : (LEVELS[entry.level] ?? 'info');
        logger.child({ stage: 'kafka', ns: entry.namespace })[level](String(message), meta);
      },
      retry: { initialRetryTime: 300, retries: 8 },
    }),
  );
}
