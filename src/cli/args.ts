import { parseArgs as parseNodeArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors';

/**
 * Command-line parsing on Node's `util.parseArgs` (strict): positional words, `--flag value`,
 * `--flag=value`, `--switch`. Every command declares its flags; an undeclared flag is a usage error.
 * A flag named after a config key (`--window 12` for PDM_WINDOW) is accepted by every command and
 * overrides the environment.
 */
export interface ParsedArgs {
  readonly positional: readonly string[];
  /** Flag values as given; a switch that is present reads 'true'. */
  readonly flags: Readonly<Record<string, string>>;
}

export interface FlagSpec {
  /** 'boolean' is a switch (`--once`); 'string' takes a value (`--search 4`, `--search=4`). */
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in help (`N`, `D`, `ISO`). */
  readonly value?: string;
  /** Shown as "(default …)" in help; the command applies it when the flag is absent. */
  readonly default?: string;
  readonly help: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What the parser and the help text need to know about one command. */
export interface CommandSpec {
  readonly name: string;
  /** The positional words after the command, as shown in help (`up|down|status`). */
  readonly args?: string;
  /** How many positional words the command takes at most. */
  readonly maxPositionals?: number;
  readonly summary: string;
  readonly flags: FlagSpecs;
  /** Paragraph printed after the flags in `pdm <command> --help`. */
  readonly notes?: string;
}

/** A bad command line (src/errors.ts): the CLI prints the message and the command's usage, and exits 2. */
export { UsageError };

/** `PDM_VOCAB_SIZE` → `vocab-size`. */
export function configFlagName(key: string): string {
  return key.replace(/^PDM_/, '').toLowerCase().replace(/_/g, '-');
}

/** Node's parse errors carry a code; their text suggests `--` tricks that do not help here. */
function usageFromParseError(error: Error & { code?: string }): UsageError {
  const option = /'(-[^' ]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${option ?? error.message}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(
        /does not take an argument/.test(error.message)
          ? `flag ${option} takes no value`
          : `flag ${option} needs a value`,
      );
    default:
      return new UsageError(error.message);
  }
}

/**
 * Parses the words after the command name. `configKeys` are the PDM_* names whose flags every command
 * accepts; a command's own flag of the same name wins. `--help`/`-h` is always a switch.
 */
export function parseCommandArgs(
  argv: readonly string[],
  spec: CommandSpec,
  configKeys: readonly string[],
): ParsedArgs & { readonly help: boolean } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const key of configKeys) options[configFlagName(key)] = { type: 'string' };
  for (const [name, flag] of Object.entries(spec.flags)) options[name] = { type: flag.type };
  options.help = { type: 'boolean', short: 'h' };
  let parsed: {
    values: Record<string, string | boolean | Array<string | boolean> | undefined>;
    positionals: string[];
  };
  try {
    parsed = parseNodeArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw usageFromParseError(error);
    throw error;
  }
  const flags: Record<string, string> = {};
  let help = false;
  for (const [name, value] of Object.entries(parsed.values)) {
    if (name === 'help') help = value === true;
    else if (typeof value === 'string' || typeof value === 'boolean') flags[name] = String(value);
  }
  const max = spec.maxPositionals ?? 0;
  if (!help && parsed.positionals.length > max)
    throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  return { positional: parsed.positionals, flags, help };
}

/** `--vocab-size 500` → `{ PDM_VOCAB_SIZE: '500' }` for the flags that name a config key. */
export function configOverrides(
  flags: Readonly<Record<string, string>>,
  keys: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = flags[configFlagName(key)];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `pdm <command> --help`: the synopsis, what it does, every flag with its default. */
export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const left = `--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;
    return [left, `${f.help}${f.default !== undefined ? ` (default ${f.default})` : ''}`] as const;
  });
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `usage: pdm ${spec.name}${spec.args ? ` ${spec.args}` : ''} [flags]`,
    '',
    spec.summary,
    '',
    'flags:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
    '',
    ...(spec.notes ? [spec.notes, ''] : []),
    'Every PDM_* setting is a flag too: --window 12 sets PDM_WINDOW, --kafka-brokers h:9092 sets PDM_KAFKA_BROKERS.',
    '',
  ].join('\n');
}
