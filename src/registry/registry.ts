import { createHash } from 'node:crypto';
import type { LayersModel } from '@tensorflow/tfjs-node';
import type { io } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ModelRefusedError, PromotionFencedError } from '../errors';
import { KerasTokenizer } from '../tokenize';
import { disposeModel, tf } from '../model/tf';
import { channelCount, EXTRA_FEATURES } from '../features';
import { keyLayout } from '../redis/keys';
import type { KeyLayout } from '../redis/keys';
import type { RedisClient } from '../redis/types';

const atThresholdSchema = z.object({
  threshold: z.number(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
});

/**
 * The model registry in Redis. A version is immutable once registered: topology + weights (through a tfjs
 * IOHandler), the scaler, the sensor list, the vocabulary (stored under its own content-hash version),
 * the threshold, holdout metrics and a data summary, all covered by one content hash. `current` names
 * the serving version; `history` the promotions, so that rollback goes back one step.
 */
export const modelMetaSchema = z.object({
  version: z.string(),
  createdAt: z.string(),
  window: z.number().int().positive(),
  textMaxLen: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  sensors: z.array(z.string()).min(1),
  scaler: z.object({ mean: z.array(z.number()), std: z.array(z.number()) }),
  threshold: z.number().gt(0).lt(1),
  /** The policy that chose the threshold (PDM_THRESHOLD_POLICY); absent in models from before policies. */
  thresholdPolicy: z.string().optional(),
  /** Maps raw network output to served scores; absent → scores are served raw (older models). */
  calibration: z
    .union([
      z.object({ method: z.literal('platt'), a: z.number().positive(), b: z.number() }),
      // Isotonic knots (src/train/calibrate-isotonic.ts): raw scores x and served scores y, both increasing.
      z.object({
        method: z.literal('isotonic'),
        x: z.array(z.number()).min(2),
        y: z.array(z.number()).min(2),
      }),
    ])
    .refine((c) => c.method !== 'isotonic' || c.x.length === c.y.length, 'isotonic knots of unequal length')
    .optional(),
  /** Figures at the threshold: on the validation split that chose it and on the later holdout. */
  operatingPoint: z
    .object({
      validation: atThresholdSchema,
      holdout: atThresholdSchema,
      warning: z.string().optional(),
    })
    .optional(),
  metrics: z.record(z.number()),
  dataSummary: z.record(z.unknown()),
  vocabVersion: z.string(),
  branches: z.enum(['both', 'sensors', 'text']).default('both'),
  /** Extra sensor-branch channels (PDM_EXTRA_FEATURES) and their caps; absent → sensors only (older models). */
  extraFeatures: z
    .object({
      channels: z.array(z.enum(EXTRA_FEATURES)),
      deltaLag: z.number().int().positive(),
      ageCapMs: z.number().positive(),
      logAgeCapMs: z.number().nonnegative(),
    })
    .optional(),
  /** How the version was trained (absent for versions registered before it was recorded). */
  training: z
    .object({ path: z.enum(['fused', 'layers']), dropout: z.number(), recurrentDropout: z.number() })
    .optional(),
  hash: z.string(),
});
export type ModelMeta = z.infer<typeof modelMetaSchema>;
export type NewModelMeta = Omit<ModelMeta, 'version' | 'createdAt' | 'hash' | 'vocabVersion'>;

export interface LoadedModel {
  readonly meta: ModelMeta;
  readonly model: LayersModel;
  readonly tokenizer: KerasTokenizer;
}

/** Proof of holding a lock (its key and the holder's token), checked atomically with a fenced write. */
export interface Fence {
  readonly key: string;
  readonly token: string;
}

// KEYS: current, history, fence key, shadow. ARGV: version, fence token ('' = unfenced). Returns the
// previous current version (false → nil when none), or 0 when the fence is not held. Promoting the shadow
// version ends its shadowing (a version cannot challenge itself).
const PROMOTE = `
if ARGV[2] ~= '' and redis.call('get', KEYS[3]) ~= ARGV[2] then return 0 end
local previous = redis.call('get', KEYS[1])
redis.call('set', KEYS[1], ARGV[1])
redis.call('rpush', KEYS[2], ARGV[1])
if redis.call('get', KEYS[4]) == ARGV[1] then redis.call('del', KEYS[4]) end
return previous`;

// KEYS: current, shadow. ARGV: version. Sets the shadow unless it is the serving version (checked in the
// same script: a promotion in between cannot make the champion its own challenger). Returns the previous
// shadow ('' when none), or 0 when the version is serving.
const SET_SHADOW = `
if redis.call('get', KEYS[1]) == ARGV[1] then return 0 end
local previous = redis.call('get', KEYS[2]) or ''
redis.call('set', KEYS[2], ARGV[1])
return previous`;

export { ModelRefusedError, PromotionFencedError };

const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** JSON with object keys sorted at every level, so the hash does not depend on property order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function contentHash(
  metaWithoutHash: Omit<ModelMeta, 'hash'>,
  topology: string,
  weights: Uint8Array,
  vocab: string,
): string {
  const { version: _v, createdAt: _c, ...content } = metaWithoutHash;
  return sha256(canonicalJson(content), topology, weights, vocab);
}

export interface ExpectedShape {
  readonly window: number;
  readonly textMaxLen: number;
}

export class ModelRegistry {
  /** Every registry key and the training lock share one slot on a cluster (register's MULTI, PROMOTE's script). */
  private readonly keys: KeyLayout;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keyLayout(redis, prefix);
  }

  private k(...parts: string[]): string {
    return this.keys.model(...parts);
  }

  /** Registers a trained model; returns its meta (with version and hash). Does not promote. */
  async register(model: LayersModel, tokenizer: KerasTokenizer, meta: NewModelMeta): Promise<ModelMeta> {
    let artifacts: io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('model.save produced no weights');
    const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
    const topology = JSON.stringify({
      modelTopology: artifacts.modelTopology,
      weightSpecs: artifacts.weightSpecs,
    });
    const vocab = JSON.stringify(tokenizer.toJSON());
    const vocabVersion = sha256(vocab).slice(0, 16);
    const version = `v${await this.redis.incr(this.k('seq'))}`;
    const base = { ...meta, version, createdAt: new Date().toISOString(), vocabVersion };
    const full: ModelMeta = { ...base, hash: contentHash(base, topology, weights, vocab) };
    await this.redis
      .multi()
      .set(this.keys.vocab(vocabVersion), vocab)
      .set(this.k(version, 'topology'), topology)
      .set(this.k(version, 'weights'), Buffer.from(weights))
      .set(this.k(version, 'meta'), JSON.stringify(full))
      .zadd(this.k('versions'), Date.now(), version)
      .exec();
    return full;
  }

  async currentVersion(): Promise<string | undefined> {
    return (await this.redis.get(this.k('current'))) ?? undefined;
  }

  async meta(version: string): Promise<ModelMeta | undefined> {
    const body = await this.redis.get(this.k(version, 'meta'));
    if (!body) return undefined;
    return modelMetaSchema.parse(JSON.parse(body));
  }

  /** A version's vocabulary alone, without its network (the evaluator's drift check needs no model). */
  async tokenizer(meta: ModelMeta): Promise<KerasTokenizer | undefined> {
    const vocab = await this.redis.get(this.keys.vocab(meta.vocabVersion));
    return vocab ? KerasTokenizer.fromJSON(JSON.parse(vocab)) : undefined;
  }

  /** The challenger scored beside the current version (champion/challenger), if one is set. */
  async shadowVersion(): Promise<string | undefined> {
    return (await this.redis.get(this.k('shadow'))) ?? undefined;
  }

  async list(): Promise<{ meta: ModelMeta; current: boolean; shadow: boolean }[]> {
    const versions = await this.redis.zrange(this.k('versions'), 0, -1);
    const [current, shadow] = await Promise.all([this.currentVersion(), this.shadowVersion()]);
    const out: { meta: ModelMeta; current: boolean; shadow: boolean }[] = [];
    for (const v of versions) {
      const meta = await this.meta(v).catch(() => undefined);
      if (meta) out.push({ meta, current: v === current, shadow: v === shadow });
    }
    return out;
  }

  /**
   * Loads and verifies a version: the hash over everything stored, the vocabulary against the embedding,
   * the input shapes against what this process expects. Refused models throw ModelRefusedError.
   */
  async load(version: string, expected?: ExpectedShape): Promise<LoadedModel> {
    const [metaBody, topology, weights] = await Promise.all([
      this.redis.get(this.k(version, 'meta')),
      this.redis.get(this.k(version, 'topology')),
      this.redis.getBuffer(this.k(version, 'weights')),
    ]);
    if (!metaBody || !topology || !weights)
      throw new ModelRefusedError('missing', `model ${version} is not in the registry (or incomplete)`);
    let meta: ModelMeta;
    try {
      meta = modelMetaSchema.parse(JSON.parse(metaBody));
    } catch (error) {
      throw new ModelRefusedError(
        'corrupt',
        `model ${version}: unreadable metadata (${(error as Error).message.slice(0, 200)})`,
      );
    }
    const vocab = await this.redis.get(this.keys.vocab(meta.vocabVersion));
    if (!vocab)
      throw new ModelRefusedError(
        'vocab_mismatch',
        `model ${version}: vocabulary ${meta.vocabVersion} is missing`,
      );
    const { hash, ...rest } = meta;
    if (contentHash(rest, topology, new Uint8Array(weights), vocab) !== hash) {
      throw new ModelRefusedError(
        'hash_mismatch',
        `model ${version}: content hash mismatch (corrupt or tampered weights, topology or vocabulary)`,
      );
    }
    if (sha256(vocab).slice(0, 16) !== meta.vocabVersion)
      throw new ModelRefusedError(
        'vocab_mismatch',
        `model ${version}: vocabulary content does not match its version`,
      );
    if (expected && (expected.window !== meta.window || expected.textMaxLen !== meta.textMaxLen)) {
      throw new ModelRefusedError(
        'incompatible',
        `model ${version} expects window ${meta.window} and text length ${meta.textMaxLen}; this process is configured for PDM_WINDOW=${expected.window}, PDM_TEXT_MAX_LEN=${expected.textMaxLen}`,
      );
    }
    const tokenizer = KerasTokenizer.fromJSON(JSON.parse(vocab));
    let model: LayersModel;
    try {
      const parsed = JSON.parse(topology) as {
        modelTopology: object;
        weightSpecs: io.WeightsManifestEntry[];
      };
      const ab = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
      model = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: parsed.modelTopology,
          weightSpecs: parsed.weightSpecs,
          weightData: ab,
        }),
      );
    } catch (error) {
      throw new ModelRefusedError(
        'corrupt',
        `model ${version}: cannot be rebuilt (${(error as Error).message.slice(0, 200)})`,
      );
    }
    const [numeric, tokens] = model.inputs.map((i) => i.shape);
    const ok =
      numeric?.[1] === meta.window &&
      numeric[2] === channelCount(meta.sensors.length, meta.extraFeatures) &&
      tokens?.[1] === meta.textMaxLen &&
      model.outputs[0]?.shape[1] === 1;
    const embedding = model.layers.find((l) => l.name === 'token_embedding');
    const inputDim = (embedding?.getConfig() as { inputDim?: number } | undefined)?.inputDim;
    if (
      !ok ||
      meta.scaler.mean.length !== meta.sensors.length ||
      meta.scaler.std.length !== meta.sensors.length
    ) {
      disposeModel(model);
      throw new ModelRefusedError(
        'incompatible',
        `model ${version}: input shapes ${JSON.stringify([numeric, tokens])} do not match its metadata (window ${meta.window}, ${channelCount(meta.sensors.length, meta.extraFeatures)} channels, text ${meta.textMaxLen})`,
      );
    }
    if (inputDim !== undefined && (inputDim !== meta.vocabSize || tokenizer.numWords > inputDim)) {
      disposeModel(model);
      throw new ModelRefusedError(
        'vocab_mismatch',
        `model ${version}: embedding has ${inputDim} rows but the vocabulary allows ${tokenizer.numWords} ids`,
      );
    }
    return { meta, model, tokenizer };
  }

  /**
   * Makes `version` the serving model, after loading and verifying it. Returns the version it replaced.
   * With a fence, the switch happens only if the fence's lock is still held by that token, checked in the
   * same script as the write: a trainer that lost its lock (stalled past the expiry) cannot promote.
   */
  async promote(version: string, expected?: ExpectedShape, fence?: Fence): Promise<string | undefined> {
    const loaded = await this.load(version, expected);
    disposeModel(loaded.model);
    const previous = (await this.redis.eval(
      PROMOTE,
      4,
      this.k('current'),
      this.k('history'),
      fence?.key ?? this.k('current'),
      this.k('shadow'),
      version,
      fence?.token ?? '',
    )) as string | null | 0;
    if (previous === 0)
      throw new PromotionFencedError(
        `promotion of ${version} refused: the lock ${fence?.key ?? ''} is no longer held by this run`,
      );
    return previous ?? undefined;
  }

  /**
   * Makes `version` the shadow (the challenger workers score beside the current version), after the same
   * load and checks as a promotion: an unknown, corrupt or incompatible version throws ModelRefusedError
   * and the pointer is left as it was. The serving version is refused too. Returns the shadow it replaced.
   */
  async setShadow(version: string, expected?: ExpectedShape): Promise<string | undefined> {
    const loaded = await this.load(version, expected);
    disposeModel(loaded.model);
    const previous = (await this.redis.eval(SET_SHADOW, 2, this.k('current'), this.k('shadow'), version)) as
      string | 0;
    if (previous === 0)
      throw new ModelRefusedError(
        'incompatible',
        `model ${version} is the serving version; a shadow must be another version`,
      );
    return previous || undefined;
  }

  /** Ends shadow scoring; returns the shadow it cleared, if any. */
  async clearShadow(): Promise<string | undefined> {
    const previous = await this.shadowVersion();
    await this.redis.del(this.k('shadow'));
    return previous;
  }

  /** Goes back to the model served before the current one. */
  async rollback(): Promise<{ from: string; to: string }> {
    const history = await this.redis.lrange(this.k('history'), 0, -1);
    const current = history[history.length - 1];
    const previous = [...history].reverse().find((v) => v !== current);
    if (!current || !previous)
      throw new Error('nothing to roll back to: fewer than two promotions in the history');
    await this.load(previous).then((l) => disposeModel(l.model));
    await this.redis.multi().set(this.k('current'), previous).rpop(this.k('history')).exec();
    return { from: current, to: previous };
  }
}
