import type { Config } from '../config';
import { kafkaComponent } from './kafka';
import { redisComponent } from './redis';
import type { StackComponent, StackEvent } from './types';

export type { StackEvent } from './types';

/** The local Kafka + Redis that `pdm stack up/down/status` manages; reuses services already reachable. */
export function localStack(config: Config): readonly StackComponent[] {
  return [kafkaComponent(config.kafka.brokers), redisComponent(config.redis.url)];
}

export async function stackUp(config: Config, say: (e: StackEvent) => void): Promise<void> {
  for (const component of localStack(config)) await component.up(say);
}

export async function stackDown(config: Config, say: (e: StackEvent) => void): Promise<void> {
  for (const component of localStack(config)) await component.down(say);
}

export async function stackStatus(config: Config): Promise<StackEvent[]> {
  return Promise.all(localStack(config).map((c) => c.status()));
}
