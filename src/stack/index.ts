import type { Config } from '../config';
import { ConfigError } from '../config';
import { DEFAULT_KAFKA_VERSION, kafkaComponent } from './kafka';
import { redisComponent } from './redis';
import type { StackComponent, StackEvent } from './types';

export type { StackEvent } from './types';
export { DEFAULT_KAFKA_VERSION } from './kafka';

/** Options of the local stack that are not service config: which Kafka release to resolve and start. */
export interface StackOptions {
  /** PDM_KAFKA_VERSION: a release on Maven Central (`4.4.0`, `3.9.1`); default deploy/kafka/pom.xml's. */
  readonly kafkaVersion?: string;
}

/** PDM_KAFKA_VERSION as a StackOptions value, or a ConfigError naming it. */
export function kafkaVersionFrom(text: string | undefined): string {
  if (text === undefined || text === '') return DEFAULT_KAFKA_VERSION;
  if (!/^[34]\.\d+\.\d+$/.test(text))
    throw new ConfigError(
      `invalid configuration: PDM_KAFKA_VERSION="${text}" is not a Kafka 3.x or 4.x release such as 4.4.0 or 3.9.1`,
    );
  return text;
}

/** The local Kafka + Redis that `pdm stack up/down/status` manages; reuses services already reachable. */
export function localStack(config: Config, options: StackOptions = {}): readonly StackComponent[] {
  return [kafkaComponent(config.kafka.brokers, options.kafkaVersion), redisComponent(config.redis.url)];
}

export async function stackUp(
  config: Config,
  say: (e: StackEvent) => void,
  options: StackOptions = {},
): Promise<void> {
  for (const component of localStack(config, options)) await component.up(say);
}

export async function stackDown(config: Config, say: (e: StackEvent) => void): Promise<void> {
  for (const component of localStack(config)) await component.down(say);
}

export async function stackStatus(config: Config): Promise<StackEvent[]> {
  return Promise.all(localStack(config).map((c) => c.status()));
}
