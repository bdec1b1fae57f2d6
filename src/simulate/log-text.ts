import { SENSORS } from './types';
import type { Sensor } from './types';

/**
 * What the simulated operators write: trouble phrases by component, routine notes, part replacements,
 * error codes and decoys (phrases that sound like trouble but are not), with how often each appears.
 */

/** Phrases that operators write when a component is going bad, by the sensor of that component. */
export const SIGNAL_PHRASES: Readonly<Record<Sensor, readonly string[]>> = {
  volt: ['overheating', 'burning smell near motor', 'voltage fluctuation observed', 'breaker tripped twice'],
  rotate: ['grinding noise', 'spindle slowing under load', 'intermittent stall', 'bearing whine'],
  pressure: ['pressure drop', 'hydraulic leak', 'hissing from valve', 'pump cavitation'],
  vibration: ['abnormal vibration', 'loose mounting bolts', 'rattling from housing', 'imbalance suspected'],
};
export const ALL_SIGNAL_PHRASES: readonly string[] = SENSORS.flatMap((s) => SIGNAL_PHRASES[s]);

/** True when a log text contains one of the characteristic trouble phrases. */
export function hasSignalPhrase(text: string): boolean {
  const lower = text.toLowerCase();
  return ALL_SIGNAL_PHRASES.some((p) => lower.includes(p));
}

export const ROUTINE = [
  'routine inspection completed no issues',
  'scheduled maintenance done',
  'visual check ok',
  'lubricated bearings',
  'calibrated sensors',
  'checked belt tension',
  'cleaned filters',
  'weekly safety check passed',
];
export const PARTS = ['filter', 'seal', 'belt', 'fuse', 'gasket', 'sensor cable'];
export const NOTES = [
  'shift handover',
  'operator reports normal operation',
  'cleaned work area',
  'production batch changed',
  'machine restarted after power dip',
  'running smoothly',
  'waiting for material',
  'speed setpoint adjusted',
  'coolant topped up',
  'new operator trained on this machine',
];
export const SIGNAL_TEMPLATES = [
  '{p}',
  'operator reports {p}',
  '{p} during shift',
  '{p} monitoring',
  'noticed {p} again',
];
/** Trouble words in a harmless context: healthy machines write these too. */
export const DECOYS = [
  '{p} reported inspected nothing found',
  '{p} false alarm',
  'operator reports {p}',
  '{p}',
];

// Healthy log rates, per machine per hour.
export const P_ROUTINE = 0.03;
export const P_PART = 0.008;
export const P_NOTE = 0.03;
export const P_DECOY = 0.006;
export const P_ERROR: ReadonlyArray<readonly [string, number]> = [
  ['error1', 0.01],
  ['error2', 0.01],
  ['error3', 0.003],
  ['error4', 0.007],
  ['error5', 0.005],
];
