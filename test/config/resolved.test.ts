import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnPdm } from '../../src/cli/child';
import { ConfigError, loadConfig } from '../../src/config';
import { childEnv, parseResolvedConfig, RESOLVED_CONFIG_VAR } from '../../src/config/resolved';

test('a child environment carries the resolved config and none of the PDM_* settings it came from', () => {
  const config = loadConfig({ PDM_WINDOW: '30', PDM_HORIZON: '12h' }, { PDM_WINDOW: '12' });
  const env = childEnv(config, {
    PATH: '/bin',
    PDM_WINDOW: '30',
    PDM_HORIZON: '12h',
    TF_CPP_MIN_LOG_LEVEL: '2',
  });
  assert.deepEqual(Object.keys(env).sort(), ['PATH', RESOLVED_CONFIG_VAR, 'TF_CPP_MIN_LOG_LEVEL']);
  const back = parseResolvedConfig(env[RESOLVED_CONFIG_VAR]!);
  assert.deepEqual(back, JSON.parse(JSON.stringify(config)));
  assert.equal(back.model.window, 12);
  assert.equal(back.horizonMs, 12 * 3_600_000);
  assert.ok(Object.isFrozen(back.model));
});

test('a resolved config that is not JSON, or not a config, is a ConfigError naming the variable', () => {
  for (const text of ['{', '{"window":12}', 'null']) {
    assert.throws(
      () => parseResolvedConfig(text),
      (e: unknown) => e instanceof ConfigError && e.message.includes(RESOLVED_CONFIG_VAR),
    );
  }
});

test("a child pdm process runs with the parent's flags, not its environment (pdm trainer --window 12)", async () => {
  const saved = process.env.PDM_WINDOW;
  process.env.PDM_WINDOW = '30';
  try {
    // What runTrainingChild and the demo do: the child gets the config the parent resolved from env + flags.
    const parent = loadConfig(process.env, { PDM_WINDOW: '12' });
    const child = spawnPdm(['config'], parent, ['ignore', 'pipe', 'pipe']);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0);
    const seen = JSON.parse(out) as { model: { window: number } };
    assert.equal(seen.model.window, 12);
  } finally {
    if (saved === undefined) delete process.env.PDM_WINDOW;
    else process.env.PDM_WINDOW = saved;
  }
});
