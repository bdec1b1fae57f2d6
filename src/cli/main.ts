import { CONFIG_KEYS, loadConfig } from '../config';
import { exitCodeFor, PdmError } from '../errors';
import type { Config } from '../config';
import { stackDown, stackStatus, stackUp } from '../stack';
import type { StackEvent } from '../stack';
import { configOverrides, parseArgs, UsageError } from './args';
import { COMMANDS } from './commands';

const USAGE = `usage: pdm <command> [flags]

commands:
${COMMANDS.map((c) => `  ${c.usage.padEnd(46)} ${c.summary}`).join('\n')}
  stack up|down|status                           local Kafka + Redis on loopback (reuses running ones)

Configuration comes from PDM_* environment variables; a flag named after one overrides it
(--window 12 sets PDM_WINDOW). See README.md for the full table.`;

function sayStack(event: StackEvent): void {
  process.stdout.write(`${event.component.padEnd(6)} ${event.state.padEnd(11)} ${event.detail}\n`);
}

async function stack(config: Config, action: string | undefined): Promise<number> {
  if (action === 'up') await stackUp(config, sayStack);
  else if (action === 'down') await stackDown(config, sayStack);
  else if (action === 'status') {
    const states = await stackStatus(config);
    states.forEach(sayStack);
    return states.every((s) => s.state === 'up') ? 0 : 3;
  } else throw new UsageError('pdm stack up|down|status');
  return 0;
}

export async function run(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  const args = parseArgs(rest, spec?.switches ?? []);
  const config = loadConfig(process.env, configOverrides(args.flags, CONFIG_KEYS));
  if (command === 'stack') return stack(config, args.positional[0]);
  if (!spec) throw new UsageError(`unknown command "${command}"`);
  return spec.run(config, args);
}

/** The process entry: maps errors to one clear line and an exit code. Only this file touches exit codes. */
export function main(argv: readonly string[]): void {
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`pdm: ${error instanceof Error ? error.message : String(error)}\n${error instanceof UsageError ? `\n${USAGE}\n` : ''}`);
      if (!(error instanceof PdmError) && process.env.PDM_LOG_LEVEL === 'debug' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
      process.exitCode = exitCodeFor(error);
    },
  );
}
