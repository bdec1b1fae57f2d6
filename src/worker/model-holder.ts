import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { backendName } from '../model/tf';
import { disposeScoringModel } from '../score';
import { ModelRefusedError } from '../registry';
import type { ExpectedShape, LoadedModel, ModelRegistry } from '../registry';

/**
 * Which registry pointer a holder follows: `current` (the serving model, published as `pdm_model_info`),
 * or `shadow` (the challenger of src/shadow, which may be cleared: the holder then unloads it).
 */
export type ModelPointer = 'current' | 'shadow';

/**
 * Holds the serving model and follows the registry's `current` pointer. A swap happens between two
 * scoring batches (batches run synchronously), the old model is disposed after the swap, and a refused
 * version (corrupt, incompatible) is logged, counted and skipped while the current one keeps serving.
 * The same rules hold for the `shadow` pointer, with the same checks.
 */
export class ModelHolder {
  private loaded: LoadedModel | undefined;
  private refused = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private why: string | undefined;
  private listener: () => void = () => undefined;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly expected: ExpectedShape,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly retryRefusedMs = 60_000,
    private readonly pointer: ModelPointer = 'current',
  ) {}

  private readVersion(): Promise<string | undefined> {
    return this.pointer === 'current' ? this.registry.currentVersion() : this.registry.shadowVersion();
  }

  /** `--clear`ed shadow: nothing to follow any more. The current pointer is never cleared. */
  private unload(): void {
    if (!this.loaded) return;
    this.logger.info(`${this.pointer} model unloaded`, { version: this.loaded.meta.version });
    disposeScoringModel(this.loaded.model);
    this.loaded = undefined;
  }

  get current(): LoadedModel | undefined {
    return this.loaded;
  }

  /**
   * Why no model serves although one was promoted (the current version was refused or could not be
   * read); undefined while a model serves, and before any model was ever promoted.
   */
  get unusable(): string | undefined {
    return this.loaded ? undefined : this.why;
  }

  /** Called after every check of the registry (the worker pauses or resumes its partitions). */
  onChecked(listener: () => void): void {
    this.listener = listener;
  }

  /** Checks the registry once; resolves after a swap (or a refusal) is done. Never throws. */
  async sync(): Promise<void> {
    await this.check();
    this.listener();
  }

  private async check(): Promise<void> {
    this.updateAge();
    let version: string | undefined;
    try {
      version = await this.readVersion();
      if (!version) {
        this.why = undefined;
        if (this.pointer === 'shadow') this.unload();
      }
      if (!version || version === this.loaded?.meta.version) return;
      const refusedAt = this.refused.get(version);
      if (refusedAt !== undefined && Date.now() - refusedAt < this.retryRefusedMs) return;
      const next = await this.registry.load(version, this.expected);
      this.why = undefined;
      const previous = this.loaded;
      this.loaded = next;
      if (previous) disposeScoringModel(previous.model);
      if (this.pointer === 'current') this.publishInfo(previous?.meta.version);
      this.logger.info(this.pointer === 'current' ? 'model loaded' : 'shadow model loaded', {
        version,
        previous: previous?.meta.version,
        threshold: next.meta.threshold,
        thresholdPolicy: next.meta.thresholdPolicy ?? null,
        calibrated: next.meta.calibration !== undefined,
        vocabVersion: next.meta.vocabVersion,
        backend: backendName(),
      });
    } catch (error) {
      if (error instanceof ModelRefusedError) {
        const version = (await this.readVersion().catch(() => undefined)) ?? '?';
        this.refused.set(version, Date.now());
        this.why = `model ${version} refused (${error.code}): ${error.message}`;
        this.metrics.modelLoadFailures.inc({ reason: error.code });
        this.logger.error(
          `${this.pointer === 'current' ? 'model' : 'shadow model'} refused; keeping the current one`,
          {
            code: error.code,
            error: error.message,
            serving: this.loaded?.meta.version ?? null,
          },
        );
      } else {
        if (version) this.why = `model ${version} could not be loaded: ${(error as Error).message}`;
        this.logger.warn('model registry check failed; will retry', { error: (error as Error).message });
      }
    }
  }

  private updateAge(): void {
    if (this.pointer !== 'current') return;
    const created = this.loaded ? Date.parse(this.loaded.meta.createdAt) : NaN;
    if (Number.isFinite(created)) this.metrics.modelAge.set(Math.max(0, (Date.now() - created) / 1000));
  }

  private publishInfo(previous: string | undefined): void {
    const meta = this.loaded?.meta;
    if (!meta) return;
    if (previous) {
      this.metrics.modelInfo.remove({ version: previous, backend: backendName() });
      for (const metric of Object.keys(meta.metrics))
        this.metrics.modelMetric.remove({ version: previous, metric });
    }
    this.metrics.modelInfo.set({ version: meta.version, backend: backendName() }, 1);
    this.updateAge();
    for (const [metric, value] of Object.entries(meta.metrics))
      this.metrics.modelMetric.set({ version: meta.version, metric }, value);
  }

  follow(intervalMs: number): void {
    const tick = () => {
      void this.sync().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, intervalMs);
      });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.stop();
    if (this.loaded) disposeScoringModel(this.loaded.model);
    this.loaded = undefined;
  }
}
