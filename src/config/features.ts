import { z } from 'zod';
import { ConfigError } from '../errors';
import { NO_EXTRA_FEATURES, parseExtraFeatures } from '../features';
import type { ExtraFeatureChoice } from '../features';

/** PDM_EXTRA_FEATURES: extra sensor-branch channels for new models (docs/configuration.md). Off by default. */
export const extraFeaturesSchema = z
  .string()
  .optional()
  .transform((text, ctx): ExtraFeatureChoice => {
    if (text === undefined) return NO_EXTRA_FEATURES;
    const parsed = parseExtraFeatures(text);
    if ('error' in parsed) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
      return z.NEVER;
    }
    return parsed;
  });

/** The choice must fit the window (a delta lag inside it) and log-age needs a log lookback to cap at. */
export function checkExtraFeatures(x: ExtraFeatureChoice, window: number, logLookbackMs: number): void {
  if (x.channels.includes('delta') && x.deltaLag >= window)
    throw new ConfigError(
      `invalid configuration: PDM_EXTRA_FEATURES delta lag ${x.deltaLag} must be below PDM_WINDOW (${window})`,
    );
  if (x.channels.includes('log-age') && logLookbackMs <= 0)
    throw new ConfigError(
      'invalid configuration: PDM_EXTRA_FEATURES=log-age needs PDM_LOG_LOOKBACK above 0 (it caps the feature)',
    );
}
