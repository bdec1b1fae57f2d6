export { ModelRefusedError, ModelRegistry, modelMetaSchema } from './registry';
export type { ExpectedShape, LoadedModel, ModelMeta, NewModelMeta } from './registry';
