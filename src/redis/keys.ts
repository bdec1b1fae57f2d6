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

export type MachineKeyKind = 'state' | 'fence' | 'journal';

export interface KeyLayout {
  readonly cluster: boolean;
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
    cluster: false,
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
    cluster: true,
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
