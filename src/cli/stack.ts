import type { Config } from '../config';
import { kafkaVersionFrom, stackDown, stackStatus, stackUp } from '../stack';
import type { StackEvent } from '../stack';
import { UsageError } from './args';

function sayStack(event: StackEvent): void {
  process.stdout.write(`${event.component.padEnd(6)} ${event.state.padEnd(11)} ${event.detail}\n`);
}

/** `pdm stack up | down | status`; status exits 3 unless every component answers. */
export async function runStack(config: Config, action: string | undefined): Promise<number> {
  // PDM_KAFKA_VERSION picks the release of a broker pdm starts (not service config: the CLI reads it here).
  if (action === 'up')
    await stackUp(config, sayStack, { kafkaVersion: kafkaVersionFrom(process.env.PDM_KAFKA_VERSION) });
  else if (action === 'down') await stackDown(config, sayStack);
  else if (action === 'status') {
    const states = await stackStatus(config);
    states.forEach(sayStack);
    return states.every((s) => s.state === 'up') ? 0 : 3;
  } else
    throw new UsageError(
      action === undefined
        ? 'stack: an action is needed (up, down or status)'
        : `stack: unknown action "${action}" (up, down or status)`,
    );
  return 0;
}
