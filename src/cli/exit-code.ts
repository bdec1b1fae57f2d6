import { ConfigError } from '../config';
import { UsageError } from './args';

/**
 * The process exit code for an error that reached the CLI: 2 for a bad command line or configuration
 * (the user must change something), 1 for everything else. One small function so that the mapping
 * can move to a shared error taxonomy without touching the CLI.
 */
export function exitCodeFor(error: unknown): number {
  return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
}
