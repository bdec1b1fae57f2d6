import { brierScore, calibrateAll, fitCalibration, reliabilityTable } from './calibrate';
import type { Calibration, CalibrationMethod, ReliabilityBin } from './calibrate';
import { atThreshold } from './evaluate';
import type { AtThreshold } from './evaluate';
import { chooseThreshold, formatThresholdPolicy } from './threshold';
import type { ThresholdPolicy } from './threshold';

export interface Scored {
  readonly labels: ArrayLike<number>;
  /** The network's raw outputs. */
  readonly raw: ArrayLike<number>;
  /** Importance weights (RawWindow.weight) when some window stands for more than itself. */
  readonly weights?: ArrayLike<number>;
}

export interface OperatingPointReport {
  readonly policy: string;
  readonly calibration: Calibration | undefined;
  readonly threshold: number;
  readonly validation: AtThreshold;
  readonly holdout: AtThreshold;
  readonly warning: string | undefined;
  /** Brier score on the holdout, of the raw and of the served (calibrated) scores. */
  readonly brier: { readonly raw: number | null; readonly served: number | null };
  readonly reliability: ReliabilityBin[];
  /** The holdout scores as the worker will serve them. */
  readonly holdoutScores: Float32Array;
}

/**
 * From raw validation and holdout scores to the served operating point: fit the calibration on
 * validation, choose the threshold on the *calibrated* validation scores (the scale the worker compares
 * with), then report the holdout at that same threshold. Calibration and threshold share the validation
 * split; that is sound because the calibration is strictly increasing, so it changes where the threshold
 * sits on the scale, not which validation windows it separates. Both splits are weighed by their windows'
 * importance weights where they have them (a split drawn from the sample store's reservoir).
 */
export function operatingPoint(
  policy: ThresholdPolicy,
  method: CalibrationMethod,
  validation: Scored,
  holdout: Scored,
): OperatingPointReport {
  const calibration = fitCalibration(method, validation.labels, validation.raw, validation.weights);
  const valScores = calibrateAll(calibration, validation.raw);
  const holdoutScores = calibrateAll(calibration, holdout.raw);
  const chosen = chooseThreshold(policy, validation.labels, valScores, validation.weights);
  const { warning, ...valFigures } = chosen;
  return {
    policy: formatThresholdPolicy(policy),
    calibration,
    threshold: chosen.threshold,
    validation: valFigures,
    holdout: atThreshold(holdout.labels, holdoutScores, chosen.threshold, holdout.weights),
    warning,
    brier: {
      raw: brierScore(holdout.labels, holdout.raw, holdout.weights),
      served: brierScore(holdout.labels, holdoutScores, holdout.weights),
    },
    reliability: reliabilityTable(holdout.labels, holdoutScores, 10, holdout.weights),
    holdoutScores,
  };
}
