/**
 * One worker process for the scale bench's 1-vs-2-workers figure. Configured by its environment (the
 * parent's isolated topics and group); loads everything first, then starts consuming on the line "go" on
 * stdin, so that two of them join the group together. Stops on SIGTERM.
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { Worker } from '../src/worker';

const worker = new Worker(loadConfig(process.env), createLogger('error'), createMetrics(undefined, false));
process.on('SIGTERM', () => {
  void worker.stop().finally(() => process.exit(0));
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'go') void worker.start();
});
process.stdout.write('loaded\n');
