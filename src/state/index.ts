export { addLog, addReading, newAlertState, newMachineState, wordsForWindow } from './machine';
export type {
  AlertState,
  LastScore,
  MachineState,
  ReadingOutcome,
  RecordPlace,
  TimedValues,
  TimedWords,
  WindowLimits,
} from './machine';
export { MachineStore } from './store';
export { CheckpointStore, fenceOf } from './checkpoint';
export type { CheckpointRefusal } from './checkpoint';
export { covered, JournalMemory, outlives } from './journal';
export type { Decision } from './journal';
export { checkpointRefusals, decisionReuses } from './metrics';
export { commitMetadata, Incarnations, incarnationOf, newIncarnation } from './incarnation';
export type { CommittedPartition, CommittedSource } from './incarnation';
