import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, report, ROOT, seconds } from '../faults/harness';
import type { FaultResult } from '../faults/harness';
import { eventually, SMALL_MODEL, testEnv } from '../helpers';
import { useSecureStack } from './secure-stack';

/**
 * Finding 16 of issue 12: the security paths, exercised against servers that require them. One Kafka broker
 * with only a SASL_SSL listener (SCRAM-SHA-512) and one Redis with only a TLS port, certificates made by
 * the test (secure-stack.ts). Real `pdm` processes connect to them: the CLI, the simulator, the trainer
 * and the worker; then each way of getting the setup wrong must end the process with a message that names
 * the setting to fix, without printing a secret.
 */
const stack = useSecureStack();

/** A command that has not exited by itself after this long is stuck in a retry loop: kafkajs' takes 70-95 s. */
const HANG_MS = 45_000;

interface Run {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
  readonly hung: boolean;
}

/** `pdm <args>` with `env` over this process's environment; killed (and marked hung) after HANG_MS. */
function pdm(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  limitMs = HANG_MS,
): Promise<Run> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'pdm.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', PDM_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output, ms: performance.now() - started, hung });
    });
  });
}

/** The environment of a client that gets everything right, with this test's own topics, group and prefix. */
const secureEnv = (overrides: Record<string, string> = {}) =>
  testEnv({ ...SMALL_MODEL, ...stack().env, ...overrides });

function assertNoSecret(output: string, extra: readonly string[] = []): void {
  for (const secret of [stack().kafkaPassword, stack().redisPassword, ...extra])
    assert.ok(!output.includes(secret), `a password appears in the output:\n${output}`);
}

test(
  'CLI, simulator, trainer and worker work over Kafka SASL_SSL (SCRAM-SHA-512) and Redis TLS',
  { timeout: 600_000 },
  async () => {
    const env = secureEnv({
      PDM_TRAIN_EPOCHS: '2',
      PDM_TRAIN_MAX_WINDOWS: '800',
      PDM_TRAIN_MIN_POSITIVES: '5',
      PDM_VOCAB_SIZE: '200',
    });
    const outputs: string[] = [];
    const ok = async (args: string[], limitMs?: number) => {
      const run = await pdm(args, env, limitMs);
      outputs.push(run.output);
      assert.equal(
        run.code,
        0,
        `pdm ${args.join(' ')} exited ${run.code}${run.hung ? ' (killed: hung)' : ''}:\n${run.output.slice(-2_000)}`,
      );
      return run;
    };
    const topics = await ok(['topics', 'create', '--partitions', '2']);
    assert.match(topics.output, /created .*\.readings/);
    await ok(['simulate', '--machines', '12', '--history', '30d', '--mtbf', '6d', '--seed', '5'], 180_000);
    const train = await ok(['train', '--once'], 300_000);
    const summary = train.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { version?: string; promoted?: boolean })
      .find((s) => s.version !== undefined && s.promoted !== undefined);
    assert.ok(summary?.version, `no training summary in:\n${train.output.slice(-2_000)}`);
    assert.equal(summary.promoted, true, 'the first model is promoted');
    const list = await ok(['model', 'list']);
    assert.match(
      list.output,
      new RegExp(`^\\* ${summary.version}\\s`, 'm'),
      'model list shows the trained model as current',
    );

    // The worker: in its group and serving the trained model (/readyz), then scoring the simulated history.
    const port = await freePort();
    const worker = spawn(process.execPath, [join(ROOT, 'bin', 'pdm.js'), 'worker'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '2',
        ...env,
        PDM_LOG_LEVEL: 'warn',
        PDM_HTTP_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let workerOutput = '';
    worker.stdout.on('data', (d: Buffer) => (workerOutput += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (workerOutput += d.toString()));
    const exited = new Promise<number | null>((done) => worker.once('exit', (code) => done(code)));
    try {
      const get = async (path: string) => fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
      await eventually('worker /readyz 200', async () => (await get('/readyz'))?.status === 200, 120_000);
      let scored: { machineId: string; score: number | null; modelVersion: string | null }[] = [];
      await eventually(
        'scored machines on /machines?top=3',
        async () => {
          const response = await get('/machines?top=3');
          scored = response?.ok
            ? ((await response.json()) as { machines: typeof scored }).machines.filter(
                (m) => m.score !== null,
              )
            : [];
          return scored.length > 0;
        },
        120_000,
      );
      assert.equal(scored[0]!.modelVersion, summary.version);
    } finally {
      worker.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `the worker drained and exited 0:\n${workerOutput.slice(-2_000)}`);
    assertNoSecret([...outputs, workerOutput].join('\n'));
    report([
      {
        test: 'security',
        fault: `SASL_SSL Kafka ${stack().kafkaVersion} + TLS Redis`,
        injected: '-',
        missing: null,
        extra: null,
        duplicated: null,
        recoverySeconds: null,
        pass: true,
        notes: `topics create, simulate, train --once (model ${summary.version} promoted), model list, worker ready and scoring; no password in any output`,
      },
    ]);
  },
);

interface Misconfiguration {
  readonly fault: string;
  readonly args: readonly string[];
  readonly env: () => Record<string, string>;
  readonly message: RegExp;
}

const wrongPassword = `wrong-${randomBytes(6).toString('hex')}`;
const plaintext = (url: string) => url.replace(/^rediss:/, 'redis:');
const MISCONFIGURATIONS: readonly Misconfiguration[] = [
  {
    fault: 'Kafka: wrong SASL password',
    args: ['topics', 'create'],
    env: () => ({ PDM_KAFKA_SASL_PASSWORD: wrongPassword }),
    message: /Kafka broker refused the SASL credentials .*PDM_KAFKA_SASL_PASSWORD/,
  },
  {
    fault: 'Kafka: unknown CA',
    args: ['worker'],
    env: () => ({ PDM_KAFKA_TLS_CA_FILE: stack().unknownCaFile }),
    message: /TLS certificate is not trusted .*PDM_KAFKA_TLS_CA_FILE/,
  },
  {
    fault: 'Kafka: plaintext client on the SASL_SSL port',
    args: ['topics', 'create'],
    env: () => ({ PDM_KAFKA_TLS: 'false' }),
    message: /speaks TLS .*PDM_KAFKA_TLS=true/,
  },
  {
    fault: 'Redis: wrong password',
    args: ['model', 'list'],
    env: () => ({ PDM_REDIS_PASSWORD: wrongPassword }),
    message: /refused the credentials \(WRONGPASS.*PDM_REDIS_PASSWORD/,
  },
  {
    fault: 'Redis: unknown CA',
    args: ['worker'],
    env: () => ({ PDM_REDIS_TLS_CA_FILE: stack().unknownCaFile }),
    message: /TLS certificate is not trusted .*PDM_REDIS_TLS_CA_FILE/,
  },
  {
    fault: 'Redis: plaintext client on the TLS port',
    args: ['model', 'list'],
    env: () => ({ PDM_REDIS_URL: plaintext(stack().env.PDM_REDIS_URL!) }),
    message: /speaks TLS .*rediss:\/\/ URL in PDM_REDIS_URL/,
  },
];

test(
  'a wrong password, an unknown CA and a plaintext client each end the process with a clear message, no retry loop, no secret',
  { timeout: 600_000 },
  async () => {
    const rows: FaultResult[] = [];
    const failures: string[] = [];
    for (const m of MISCONFIGURATIONS) {
      const run = await pdm(m.args, secureEnv({ PDM_HTTP_PORT: String(await freePort()), ...m.env() }));
      const line = run.output.split('\n').find((l) => m.message.test(l)) ?? '';
      // The CLI prints `pdm: <message>`; the worker logs it as the `error` of a JSON line.
      const message = line.startsWith('{')
        ? String((JSON.parse(line) as { error?: unknown }).error)
        : line.replace(/^pdm: /, '');
      const pass = !run.hung && run.code === 1 && line !== '';
      if (!pass)
        failures.push(
          `${m.fault}: pdm ${m.args.join(' ')} ${run.hung ? `did not exit within ${HANG_MS / 1000} s` : `exited ${run.code}`}, expected ${m.message}:\n${run.output.slice(-1_500)}`,
        );
      assertNoSecret(run.output, [wrongPassword]);
      rows.push({
        test: 'security',
        fault: m.fault,
        injected: `pdm ${m.args.join(' ')}`,
        missing: null,
        extra: null,
        duplicated: null,
        recoverySeconds: null,
        pass,
        notes: `exit ${run.code} after ${seconds(run.ms)} s (process start included): ${message.slice(0, 160)}`,
      });
    }
    report(rows);
    assert.deepEqual(failures, []);
  },
);
