export { ModelRefusedError, ModelRegistry, PromotionFencedError, modelMetaSchema } from './registry';
export type { ExpectedShape, Fence, LoadedModel, ModelMeta, NewModelMeta } from './registry';
