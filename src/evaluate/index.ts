export { Evaluator } from './evaluator';
export type { EvaluatorState, EvaluatorView } from './view';
export { Ledger, NO_VERSION } from './ledger';
export type {
  AlertRecord,
  DecisionGate,
  FailureRecord,
  IgnoredReason,
  LedgerEvent,
  LedgerOptions,
  MachineLedger,
  Position,
  RaisedAlert,
} from './ledger';
export { countEvents, createEvaluatorMetrics, LEAD_TIME_BUCKETS, publishFigures } from './metrics';
export type { EvaluatorMetrics } from './metrics';
export { runEvaluator } from './run';
export { EvaluationStore, readDrift, readLiveFigures, saveDrift } from './store';
export type { StoredDrift } from './store';
export { emptyCounts, figures, formatCompare, formatLive, Tally } from './tally';
export type { LiveFigures, VersionCounts } from './tally';
