export { Worker } from './worker';
export type { WorkerState } from './worker';
export { BatchStep } from './batch';
export type { BatchOutcome, BatchPorts, BatchSettings, BatchMemory } from './batch';
export type { BatchConsumer, CheckpointPort, Clock, ModelSource, OutputProducer } from './ports';
export { machineView, workerHandlers } from './views';
export type { MachineView, Readiness } from './views';
export { runWorker } from './run';
