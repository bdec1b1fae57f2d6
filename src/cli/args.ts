import { UsageError } from '../errors';

/**
 * Command-line parsing: positional words, then `--flag value` / `--flag=value` / `--switch`.
 * A flag named like a config key (`--window 12` for PDM_WINDOW) overrides the environment.
 */
export interface ParsedArgs {
  readonly positional: readonly string[];
  readonly flags: Readonly<Record<string, string>>;
}

export { UsageError };

export function parseArgs(argv: readonly string[], switches: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UsageError(`bad flag "${arg}"`);
    if (eq !== -1) flags[name] = arg.slice(eq + 1);
    else if (switches.includes(name)) flags[name] = 'true';
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`flag --${name} needs a value`);
      flags[name] = value;
      i++;
    }
  }
  return { positional, flags };
}

/** `--vocab-size 500` → `{ PDM_VOCAB_SIZE: '500' }` for the flags that name a config key. */
export function configOverrides(flags: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(flags)) {
    const key = `PDM_${name.toUpperCase().replace(/-/g, '_')}`;
    if (keys.includes(key)) out[key] = value;
  }
  return out;
}
