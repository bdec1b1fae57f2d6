import type { MachineState } from '../state';
import type { WindowContext } from './extras';

/**
 * The worker's side of the extra channels' inputs, snapshotted when a window is handed to the scorer: the
 * machine's first reading (checkpoints from before `firstTs` fall back to the oldest reading held) and the
 * newest log at or before `t` among the logs the state keeps (the lookback plus the allowed lateness, which
 * covers the log-age cap). Training computes the same two values from the whole history (src/train/dataset.ts).
 */
export function windowContext(state: MachineState, t: number): WindowContext {
  let lastLogTs: number | undefined;
  for (let i = state.logs.length - 1; i >= 0; i--) {
    const ts = state.logs[i]!.ts;
    if (ts <= t) {
      lastLogTs = ts;
      break;
    }
  }
  return { firstTs: state.firstTs ?? state.readings[0]?.ts, lastLogTs };
}
