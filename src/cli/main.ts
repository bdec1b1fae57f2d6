import { CONFIG_KEYS, loadConfig, unknownVariables } from '../config';
import type { Config } from '../config';
import { parseResolvedConfig, RESOLVED_CONFIG_VAR } from '../config/resolved';
import { commandHelp, configOverrides, parseCommandArgs, UsageError } from './args';
import type { ParsedArgs } from './args';
import { COMMANDS } from './commands';
import type { Command } from './commands';
import { exitCodeFor } from '../errors';

export const USAGE = `usage: pdm <command> [flags]        pdm <command> --help for its flags and defaults

commands:
${COMMANDS.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(42)} ${c.summary}`).join('\n')}

Configuration comes from PDM_* environment variables; a flag named after one overrides it
(--window 12 sets PDM_WINDOW). README.md has the full table.
`;

/** The environment plus config flags, or, in a child pdm process, the config its parent resolved. */
function resolveConfig(env: NodeJS.ProcessEnv, args: ParsedArgs): Config {
  const overrides = configOverrides(args.flags, CONFIG_KEYS);
  const resolved = env[RESOLVED_CONFIG_VAR];
  if (resolved === undefined) {
    const config = loadConfig(env, overrides);
    for (const v of unknownVariables(env, CONFIG_KEYS)) {
      process.stderr.write(
        `pdm: warning: ${v.name} is not a setting and has no effect${v.suggestion ? ` (did you mean ${v.suggestion}?)` : ''}\n`,
      );
    }
    return config;
  }
  const given = Object.keys(overrides);
  if (given.length > 0)
    throw new UsageError(
      `${given.join(', ')}: a child process runs with its parent's resolved config (${RESOLVED_CONFIG_VAR})`,
    );
  return parseResolvedConfig(resolved);
}

const findCommand = (name: string | undefined): Command | undefined => COMMANDS.find((c) => c.name === name);

/** Runs one command line and returns its exit code; usage and configuration errors are thrown. */
export async function run(
  argv: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] === undefined ? undefined : findCommand(rest[0]);
    if (rest[0] !== undefined && !topic) throw new UsageError(`unknown command "${rest[0]}"`);
    out.write(topic ? commandHelp(topic) : USAGE);
    return 0;
  }
  if (name === undefined) throw new UsageError('a command is needed');
  const command = findCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const args = parseCommandArgs(rest, command, CONFIG_KEYS);
  if (args.help) {
    out.write(commandHelp(command));
    return 0;
  }
  return command.run(resolveConfig(process.env, args), args);
}

/** What a failed command line prints on stderr: one clear line, plus the usage after a usage error. */
export function errorText(argv: readonly string[], error: unknown, debug: boolean): string {
  const message = `pdm: ${error instanceof Error ? error.message : String(error)}\n`;
  if (error instanceof UsageError) {
    const command = findCommand(argv[0]);
    return `${message}\n${command ? commandHelp(command) : USAGE}`;
  }
  return debug && error instanceof Error && error.stack ? `${message}${error.stack}\n` : message;
}

/** The process entry: runs the command line and sets the exit code (exitCodeFor maps errors). */
export function main(argv: readonly string[]): void {
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(errorText(argv, error, process.env.PDM_LOG_LEVEL === 'debug'));
      process.exitCode = exitCodeFor(error);
    },
  );
}
