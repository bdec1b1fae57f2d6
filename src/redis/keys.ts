/**
 * Every Redis key pdm writes, in one place. A single Redis keeps the names it always had (an existing
 * deployment needs no migration). A Redis Cluster gets the same names with a hash tag, so that the keys one
 * MULTI or Lua script touches hash to one slot (the cluster refuses anything else with CROSSSLOT):
 *
 * | group (one slot)              | single Redis                                  | Redis Cluster                                      |
 * |-------------------------------|-----------------------------------------------|----------------------------------------------------|
 * | a machine's checkpoint        | `<p>state:<id>` `<p>fence:<id>` `<p>journal:<id>` | `<p>state:{<id>}` `<p>fence:{<id>}` `<p>journal:{<id>}` |
 * | the model registry + its lock | `<p>model:…` `<p>vocab:<v>` `<p>train:lock`   | `<p>{registry}model:…` `<p>{registry}vocab:<v>` `<p>{registry}train:lock` |
 * | the trainer's sample store    | `<p>train:store:<topic>` `<p>train:samples:<topic>` | `<p>train:store:{<topic>}` `<p>train:samples:{<topic>}` |
 * | the evaluator                 | `<p>eval:<name>`                              | `<p>{eval}eval:<name>`                              |
 * | the drift retrain mark        | `<p>train:drift-triggered`                    | the same (one key, no group)                        |
 *
 * The lock shares the registry's slot because a promotion checks the lock's token in the same script
 * that switches the serving version. Machine ids are spread over every slot; `{`, `}` and `%` in an id
 * are %-escaped inside the tag so that any id makes a well-formed, reversible tag.
 */
import { isCluster } from './types';
import type { RedisClient } from './types';

/** The keys of a machine's checkpoint: what `pdm replay` can rebuild from the topics. */
export const MACHINE_KEY_KINDS = ['state', 'fence', 'journal'] as const;
export type MachineKeyKind = (typeof MACHINE_KEY_KINDS)[number];

export interface KeyLayout {
  /** A machine's checkpoint, its fence or its decision journal. */
  machine(kind: MachineKeyKind, machineId: string): string;
  /** The SCAN MATCH pattern of every key of one kind. */
  machinePattern(kind: MachineKeyKind): string;
  /** The machine id of a key that machinePattern matched. */
  machineIdOf(kind: MachineKeyKind, key: string): string;
  /** A registry key: `model(version, 'meta')`, `model('current')`. */
  model(...parts: string[]): string;
  vocab(vocabVersion: string): string;
  /** The training lock; it fences promotions, so it lives with the registry. */
  trainLock(): string;
  trainStore(topic: string): string;
  /** The store format before the bounded one; read once and migrated (src/train/samples.ts). */
  trainSamples(topic: string): string;
  evaluation(name: string): string;
  driftTriggered(): string;
}

const escapeTag = (id: string) =>
  id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const unescapeTag = (tag: string) =>
  tag.replace(/%(25|7B|7D)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** The single-Redis layout: the key names pdm has always used. */
export function standaloneKeys(prefix: string): KeyLayout {
  return {
    machine: (kind, id) => `${prefix}${kind}:${id}`,
    machinePattern: (kind) => `${prefix}${kind}:*`,
    machineIdOf: (kind, key) => key.slice(`${prefix}${kind}:`.length),
    model: (...parts) => `${prefix}model:${parts.join(':')}`,
    vocab: (v) => `${prefix}vocab:${v}`,
    trainLock: () => `${prefix}train:lock`,
    trainStore: (topic) => `${prefix}train:store:${topic}`,
    trainSamples: (topic) => `${prefix}train:samples:${topic}`,
    evaluation: (name) => `${prefix}eval:${name}`,
    driftTriggered: () => `${prefix}train:drift-triggered`,
  };
}

/** The Redis Cluster layout (hash tags; see the table above). The prefix must not contain `{` or `}` (config checks). */
export function clusterKeys(prefix: string): KeyLayout {
  const registry = `${prefix}{registry}`;
  return {
    machine: (kind, id) => `${prefix}${kind}:{${escapeTag(id)}}`,
    machinePattern: (kind) => `${prefix}${kind}:{*`,
    machineIdOf: (kind, key) => unescapeTag(key.slice(`${prefix}${kind}:{`.length, -1)),
    model: (...parts) => `${registry}model:${parts.join(':')}`,
    vocab: (v) => `${registry}vocab:${v}`,
    trainLock: () => `${registry}train:lock`,
    trainStore: (topic) => `${prefix}train:store:{${topic}}`,
    trainSamples: (topic) => `${prefix}train:samples:{${topic}}`,
    evaluation: (name) => `${prefix}{eval}eval:${name}`,
    driftTriggered: () => `${prefix}train:drift-triggered`,
  };
}

/** The layout for this client: tagged keys on a Redis Cluster, the historical names on a single Redis. */
export function keyLayout(redis: RedisClient, prefix: string): KeyLayout {
  return isCluster(redis) ? clusterKeys(prefix) : standaloneKeys(prefix);
}

/**
 * The cluster name of a key of the single-Redis layout, for moving a deployment onto a cluster
 * (src/redis/copy.ts); undefined for a key that is not pdm state under this prefix, and for the training
 * lock (a lock is held by a running process, never copied).
 */
export function clusterKeyOf(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const c = clusterKeys(prefix);
  const after = (head: string) =>
    rest.startsWith(head) && rest.length > head.length ? rest.slice(head.length) : undefined;
  let tail: string | undefined;
  for (const kind of MACHINE_KEY_KINDS)
    if ((tail = after(`${kind}:`)) !== undefined) return c.machine(kind, tail);
  if ((tail = after('model:')) !== undefined) return c.model(tail);
  if ((tail = after('vocab:')) !== undefined) return c.vocab(tail);
  if ((tail = after('train:store:')) !== undefined) return c.trainStore(tail);
  if ((tail = after('train:samples:')) !== undefined) return c.trainSamples(tail);
  if ((tail = after('eval:')) !== undefined) return c.evaluation(tail);
  if (rest === 'train:drift-triggered') return c.driftTriggered();
  return undefined;
}
