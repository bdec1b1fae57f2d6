export { Worker } from './worker';
export type { MachineView, WorkerState } from './worker';
export { runWorker } from './run';
