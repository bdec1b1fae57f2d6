export { explainWindow } from './occlusion';
export type { Attribution, ExplainableModel, ExplainInput, ExplainOptions, Explanation } from './occlusion';
