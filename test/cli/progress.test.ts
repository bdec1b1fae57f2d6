import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backfillLine,
  bar,
  formatDuration,
  ProgressLine,
  simulateProgressLogger,
  trainLine,
  trainProgressHooks,
} from '../../src/cli/progress';
import { createLogger } from '../../src/log';

/** A terminal that records what was written. */
function terminal(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns: 200, write: (t: string) => writes.push(t) } };
}

test('bar, ETA and the training line: windows done, rate, ETA over the remaining epochs, last val PR-AUC', () => {
  assert.equal(bar(0.5, 10), '[#####-----]');
  assert.equal(bar(7, 4), '[####]');
  assert.equal(formatDuration(75), '1:15');
  assert.equal(formatDuration(3_725), '1:02:05');
  // 1,000 of 4,000 windows in 10 s → 100/s; remaining 3,000 + one more epoch of 4,000 → 70 s.
  const line = trainLine({ epoch: 2, epochs: 3, done: 1_000, total: 4_000, seconds: 10 }, 0.71234);
  assert.equal(
    line,
    'train  epoch 2/3 [######------------------] 1,000/4,000 windows  100/s  ETA 1:10  val PR-AUC 0.712',
  );
});

test('in a terminal the trainer events become a redrawn line and committed epoch lines; other logs pass through', () => {
  const t = terminal(true);
  const logged: string[] = [];
  const hooks = trainProgressHooks(
    createLogger('info', {}, (l) => logged.push(l)),
    t.out,
    2,
  );
  assert.ok(hooks.onProgress, 'a per-batch hook in a TTY');
  hooks.logger.info('training', {
    train: 400,
    trainPositives: 40,
    validation: 100,
    holdout: 100,
    backend: 'tensorflow',
  });
  hooks.onProgress({ epoch: 1, epochs: 2, done: 200, total: 400, seconds: 2 });
  hooks.logger.info('epoch', { epoch: 1, loss: 0.5, valLoss: 0.4, valPrAuc: 0.8, seconds: 4 });
  hooks.logger.child({ stage: 'x' }).info('restored best epoch', { epoch: 1 });
  hooks.done();
  const screen = t.writes.join('');
  assert.match(screen, /\rtrain {2}epoch 1\/2 \[#{12}-{12}\] 200\/400 windows {2}100\/s {2}ETA 0:06/);
  assert.match(
    screen,
    /train {2}epoch 1\/2 done in 4\.0 s {2}loss 0\.5000 {2}val_loss 0\.4000 {2}val PR-AUC 0\.800\n/,
  );
  assert.match(screen, /epoch 2\/2 .*ETA 0:04/);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /"msg":"restored best epoch"/);
});

test('piped, nothing is rendered: the JSON lines stay and there is no per-batch hook', () => {
  const t = terminal(false);
  const logged: string[] = [];
  const hooks = trainProgressHooks(
    createLogger('info', {}, (l) => logged.push(l)),
    t.out,
    2,
  );
  hooks.logger.info('epoch', { epoch: 1, loss: 0.5, valLoss: 0.4, valPrAuc: 0.8, seconds: 4 });
  assert.equal(hooks.onProgress, undefined);
  assert.deepEqual(t.writes, []);
  assert.match(logged[0]!, /"msg":"epoch"/);
});

test('simulate backfill: its progress events become a line with the share of event time done and an ETA', () => {
  assert.equal(
    backfillLine({
      from: 0,
      to: 100 * 3_600_000,
      at: 25 * 3_600_000,
      readings: 5_000,
      readingsPerSecond: 2_500,
      elapsedSeconds: 2,
    }),
    'simulate  backfill [######------------------] 25%  event time 1970-01-02T01h  readings 5,000  2,500/s  ETA 0:06',
  );
  const t = terminal(true);
  let clock = 0;
  const log = simulateProgressLogger(
    createLogger('info', {}, () => undefined),
    new ProgressLine(t.out),
    () => clock,
  );
  log
    .child({ stage: 'simulate' })
    .info('backfill', { machines: 3, from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z' });
  clock = 3_000;
  log.child({ stage: 'simulate' }).info('progress', {
    phase: 'backfill',
    readings: 36,
    readingsPerSecond: 12,
    eventTime: '2026-01-01T12:00:00.000Z',
  });
  assert.match(t.writes.join(''), /\rsimulate {2}backfill \[#{12}-{12}\] 50% .*ETA 0:03/);
});
