export { featurize } from './features';
export type { Features, FeatureSpec } from './features';
export { ScoreBatcher, StaleModelError } from './batcher';
export type { ScoreRequest, ScoreResult } from './batcher';
export { disposeScoringModel, splitFor } from './split';
