/** The bench fleet's readings, shared by the in-process benches and the offered-load process. */

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

/**
 * How the readings move the known model's score: `flip` alternates sensor v so that every reading of a full
 * window flips the alert (the harshest case: every window raises or clears, and every raise is explained);
 * `rare` keeps the score low except for one reading in 97 of each machine, which raises an alert that the
 * next reading clears (about 2% of windows change an alert: a fleet in normal operation).
 */
export type ReadingPattern = 'flip' | 'rare';

/** One reading per machine per hour. */
export function reading(m: number, hour: number, pattern: ReadingPattern = 'flip') {
  const id = `m-${m}`;
  const high = pattern === 'flip' ? hour % 2 === 1 : (hour + m) % 97 === 0;
  return {
    key: id,
    value: JSON.stringify({ machineId: id, ts: T0 + hour * H, values: { v: high ? 2.5 : -1 } }),
  };
}
