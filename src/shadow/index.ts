export { Shadow } from './follow';
export { ShadowScorer } from './scorer';
export type { ShadowOptions } from './scorer';
