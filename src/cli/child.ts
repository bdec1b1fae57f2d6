import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../config';
import { childEnv } from '../config/resolved';
import { projectRoot } from '../stack/process';

const BIN = join(projectRoot, 'bin', 'pdm.js');

/**
 * Starts `pdm <args>` as a child process running with `config` (serialised once into its environment,
 * see childEnv) rather than whatever PDM_* variables this process was started with.
 */
export function spawnPdm(args: readonly string[], config: Config, stdio: StdioOptions): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: childEnv(config, process.env), stdio });
}
