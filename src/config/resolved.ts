import { CONFIG_KEYS, ConfigError } from './index';
import type { Config } from './index';

/**
 * A pdm process that starts another (the trainer its training runs, the demo its worker, trainer and
 * simulator) hands over its resolved Config, serialised once, in this variable: the child runs with
 * exactly the parent's settings, command-line flags included (`pdm trainer --window 12` trains with
 * window 12), and never re-reads PDM_* from its environment.
 */
export const RESOLVED_CONFIG_VAR = 'PDM_RESOLVED_CONFIG';

/** The environment of a child pdm process: the parent's, minus every PDM_* setting, plus the resolved config. */
export function childEnv(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !CONFIG_KEYS.includes(key) && key !== RESOLVED_CONFIG_VAR) out[key] = value;
  }
  out[RESOLVED_CONFIG_VAR] = JSON.stringify(config);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The Config a parent serialised with childEnv; throws ConfigError when the text is not one. */
export function parseResolvedConfig(text: string): Config {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `invalid configuration: ${RESOLVED_CONFIG_VAR} is not JSON (${(error as Error).message})`,
    );
  }
  // The parent is the same build of this program: checking the shape's landmarks is enough to catch a
  // variable set by hand or by another version.
  const c = value as Partial<Config> | null;
  if (
    !c ||
    typeof c !== 'object' ||
    !Array.isArray(c.kafka?.brokers) ||
    typeof c.model?.window !== 'number' ||
    typeof c.topics?.readings !== 'string'
  ) {
    throw new ConfigError(
      `invalid configuration: ${RESOLVED_CONFIG_VAR} does not hold a resolved pdm config`,
    );
  }
  return deepFreeze(c as Config);
}

const maskUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

/** The config as `pdm config` shows it: passwords and the credentials in URLs masked. */
export function redactedConfig(config: Config): Config {
  const mask = (value: string | undefined) => (value === undefined ? undefined : '***');
  return {
    ...config,
    kafka: {
      ...config.kafka,
      sasl: config.kafka.sasl ? { ...config.kafka.sasl, password: '***' } : undefined,
    },
    redis: {
      ...config.redis,
      url: maskUrl(config.redis.url),
      cluster: config.redis.cluster ? { seeds: config.redis.cluster.seeds.map(maskUrl) } : undefined,
      password: mask(config.redis.password),
    },
  };
}
