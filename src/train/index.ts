export { trainOnce, TrainingError } from './once';
export type { TrainSummary } from './once';
export { buildWindows, splitByTime } from './dataset';
export type { DatasetSummary, RawWindow } from './dataset';
export { atThreshold, bestF1Threshold, prAuc, rocAuc } from './evaluate';
