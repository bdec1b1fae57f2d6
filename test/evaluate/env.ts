import { SMALL_MODEL } from '../helpers';

/** The evaluator tests' settings: a 12 h horizon, 1 h grace, 10 d retention and fast ticks. */
export const EVAL_TEST_ENV: Readonly<Record<string, string>> = {
  ...SMALL_MODEL,
  PDM_HORIZON: '12h',
  PDM_EVAL_GRACE: '1h',
  PDM_EVAL_RETENTION: '10d',
  PDM_EVAL_INTERVAL: '100ms',
};
