export { explainWindow, explainWindows } from './occlusion';
export type { Attribution, ExplainableModel, ExplainInput, ExplainOptions, Explanation } from './occlusion';
