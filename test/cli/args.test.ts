import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  commandHelp,
  configFlagName,
  configOverrides,
  parseCommandArgs,
  UsageError,
} from '../../src/cli/args';
import type { CommandSpec } from '../../src/cli/args';

const spec: CommandSpec = {
  name: 'train',
  args: '--once',
  summary: 'one training round',
  flags: {
    once: { type: 'boolean', help: 'one round' },
    search: { type: 'string', value: 'N', default: '1', help: 'configurations to try' },
  },
};
const KEYS = ['PDM_WINDOW', 'PDM_KAFKA_BROKERS'];
const parse = (argv: string[], s: CommandSpec = spec) => parseCommandArgs(argv, s, KEYS);
const usage = (pattern: RegExp) => (error: unknown) =>
  error instanceof UsageError && pattern.test(error.message);

test('flags, switches and config flags parse; values keep their text', () => {
  const a = parse(['--once', '--search', '4', '--window=12', '--kafka-brokers', 'h:9092']);
  assert.deepEqual(a.flags, { once: 'true', search: '4', window: '12', 'kafka-brokers': 'h:9092' });
  assert.deepEqual(a.positional, []);
  assert.equal(a.help, false);
  assert.deepEqual(configOverrides(a.flags, KEYS), { PDM_WINDOW: '12', PDM_KAFKA_BROKERS: 'h:9092' });
  assert.equal(configFlagName('PDM_TRAIN_MAX_WINDOWS'), 'train-max-windows');
});

test('--help and -h are switches of every command, even after other flags', () => {
  assert.equal(parse(['--help']).help, true);
  assert.equal(parse(['--search', '2', '-h']).help, true);
});

test('an unknown flag, a missing value, a value on a switch and a stray word are usage errors', () => {
  assert.throws(() => parse(['--once', '--bogus']), usage(/^unknown flag --bogus$/));
  assert.throws(() => parse(['--search']), usage(/^flag --search needs a value$/));
  assert.throws(() => parse(['--search', '--once']), usage(/^flag --search needs a value$/));
  assert.throws(() => parse(['--once=yes']), usage(/^flag --once takes no value$/));
  assert.throws(() => parse(['--once', 'now']), usage(/^unexpected argument "now"$/));
  const stack: CommandSpec = {
    name: 'stack',
    args: 'up | down | status',
    maxPositionals: 1,
    summary: 's',
    flags: {},
  };
  assert.deepEqual(parse(['up'], stack).positional, ['up']);
  assert.throws(() => parse(['up', 'now'], stack), usage(/unexpected argument "now"/));
});

test('help lists the synopsis, every flag with its placeholder and default, and --help', () => {
  const text = commandHelp(spec);
  assert.match(text, /^usage: pdm train --once \[flags\]$/m);
  assert.match(text, /^ {2}--once +one round$/m);
  assert.match(text, /^ {2}--search N +configurations to try \(default 1\)$/m);
  assert.match(text, /^ {2}-h, --help +this text$/m);
});
