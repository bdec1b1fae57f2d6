export { addLog, addReading, newAlertState, newMachineState, wordsForWindow } from './machine';
export type {
  AlertState,
  LastScore,
  MachineState,
  ReadingOutcome,
  TimedValues,
  TimedWords,
  WindowLimits,
} from './machine';
export { MachineStore } from './store';
export { CheckpointStore } from './checkpoint';
