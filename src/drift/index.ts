export { decileBin, DriftWindow, psiOfCounts } from './window';
export type { DriftReference, DriftSnapshot, SensorDrift } from './window';
