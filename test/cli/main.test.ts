import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args';
import { COMMANDS } from '../../src/cli/commands';
import { exitCodeFor } from '../../src/errors';
import { errorText, run, USAGE } from '../../src/cli/main';
import { ConfigError } from '../../src/config';

async function output(argv: string[]): Promise<{ code: number; text: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const code = await run(argv, out);
  return { code, text };
}

test('pdm <command> --help answers for every command with each of its flags and defaults, without config', async () => {
  for (const command of COMMANDS) {
    const { code, text } = await output([command.name, '--help']);
    assert.equal(code, 0, command.name);
    assert.match(text, new RegExp(`^usage: pdm ${command.name}\\b`), command.name);
    for (const [name, flag] of Object.entries(command.flags)) {
      assert.ok(text.includes(`--${name}`), `${command.name} --help lists --${name}`);
      if (flag.default !== undefined)
        assert.ok(text.includes(`(default ${flag.default})`), `${command.name} --${name} default`);
    }
    assert.equal((await output(['help', command.name])).text, text);
  }
  const top = await output(['--help']);
  assert.equal(top.code, 0);
  assert.equal(top.text, USAGE);
  for (const command of COMMANDS) assert.match(top.text, new RegExp(`^ {2}${command.name}\\b`, 'm'));
});

test("usage errors of any command exit 2 with that command's usage; config errors exit 2; others 1", async () => {
  const cases: string[][] = [
    [],
    ['nope'],
    ['topics'],
    ['topics', 'delete'],
    ['topics', 'create', '--partitions', 'x'],
    ['train'],
    ['train', '--search', '0', '--once'],
    ['worker', '--bogus'],
    ['stack', 'sideways'],
    ['model'],
    ['model', 'promote'],
    ['model', 'shadow'],
    ['model', 'shadow', 'v1', '--clear'],
    ['model', 'list', '--clear'],
    ['model', 'shadow', 'v1'], // PDM_TOPIC_SCORES unset: shadow scores would have nowhere to go
    ['redis'],
    ['redis', 'move'],
    ['redis', 'copy'],
    ['redis', 'copy', '--from', 'http://127.0.0.1:6379'],
    ['redis', 'copy', '--from', 'redis://127.0.0.1:6379'], // PDM_REDIS_CLUSTER unset: no cluster to copy into
  ];
  for (const argv of cases) {
    await assert.rejects(output(argv), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${argv.join(' ')} → ${String(error)}`);
      assert.equal(exitCodeFor(error), 2);
      const text = errorText(argv, error, false);
      const command = COMMANDS.find((c) => c.name === argv[0]);
      assert.ok(text.includes(command ? `usage: pdm ${command.name}` : 'usage: pdm <command>'), text);
      return true;
    });
  }
  assert.equal(exitCodeFor(new ConfigError('invalid configuration: PDM_WINDOW')), 2);
  assert.equal(exitCodeFor(new Error('broker down')), 1);
});

test('node bin/pdm.js train --help prints the flags and exits 0; a bad flag exits 2 with usage on stderr', () => {
  const bin = join(__dirname, '..', '..', 'bin', 'pdm.js');
  const help = spawnSync(process.execPath, [bin, 'train', '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: pdm train --once \[flags\]/);
  assert.match(help.stdout, /--branches B .*\(default both\)/);
  const bad = spawnSync(process.execPath, [bin, 'topics', 'create', '--partitons', '3'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^pdm: unknown flag --partitons\n\nusage: pdm topics create/);
  assert.equal(bad.stdout, '');
});
