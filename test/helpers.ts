import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import type { Config } from '../src/config';

/** A config with its own topics, group id and Redis key prefix, so integration tests never collide. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const tag = `t${randomUUID().slice(0, 8)}`;
  return loadConfig(process.env, {
    PDM_GROUP_ID: `${tag}-group`,
    PDM_REDIS_PREFIX: `${tag}:`,
    PDM_TOPIC_READINGS: `${tag}.readings`,
    PDM_TOPIC_LOGS: `${tag}.logs`,
    PDM_TOPIC_FAILURES: `${tag}.failures`,
    PDM_TOPIC_ALERTS: `${tag}.alerts`,
    PDM_TOPIC_DLQ: `${tag}.dlq`,
    PDM_HTTP_PORT: '0',
    PDM_LOG_LEVEL: 'warn',
    ...overrides,
  });
}

/** Shutdown regressions show up as hung promises: every close in a test goes through this. */
export async function withTimeout<T>(what: string, promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
