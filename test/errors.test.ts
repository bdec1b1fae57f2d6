import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  exitCodeFor,
  isRetriable,
  ModelRefusedError,
  PdmError,
  StaleModelError,
  TrainingError,
  UsageError,
} from '../src/errors';

test('every error of ours carries a code and a retriable flag', () => {
  const errors: PdmError[] = [
    new ConfigError('c'),
    new UsageError('u'),
    new ModelRefusedError('corrupt', 'm'),
    new TrainingError('no_data', 't'),
    new StaleModelError('s'),
  ];
  assert.deepEqual(
    errors.map((e) => [e.name, e.code, e.retriable]),
    [
      ['ConfigError', 'config', false],
      ['UsageError', 'usage', false],
      ['ModelRefusedError', 'corrupt', false],
      ['TrainingError', 'no_data', false],
      ['StaleModelError', 'stale_model', true],
    ],
  );
  assert.ok(errors.every((e) => e instanceof Error && e instanceof PdmError));
});

test('isRetriable: programmer errors never, flagged errors as flagged, unknown errors presumed transient', () => {
  assert.equal(isRetriable(new TypeError('x')), false);
  assert.equal(isRetriable(new RangeError('x')), false);
  assert.equal(isRetriable(new ConfigError('x')), false);
  assert.equal(isRetriable(new StaleModelError('x')), true);
  assert.equal(isRetriable(Object.assign(new Error('kafka'), { retriable: false })), false);
  assert.equal(isRetriable(new Error('ECONNRESET')), true);
});

test('exitCodeFor: usage and config 2, no model from training 3, anything else 1', () => {
  assert.equal(exitCodeFor(new UsageError('x')), 2);
  assert.equal(exitCodeFor(new ConfigError('x')), 2);
  assert.equal(exitCodeFor(new TrainingError('too_few_positives', 'x')), 3);
  assert.equal(exitCodeFor(new ModelRefusedError('incompatible', 'x')), 1);
  assert.equal(exitCodeFor(new Error('x')), 1);
  assert.equal(exitCodeFor('a string'), 1);
});
