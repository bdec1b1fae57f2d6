import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** The project root (where package.json lives); local stack data goes under `.pdm/`, downloads under `.cache/`. */
export const projectRoot = resolve(__dirname, '..', '..');
export const stackDir = (name: string) => join(process.env.PDM_STACK_DIR ?? join(projectRoot, '.pdm'), name);

/** True when something accepts TCP connections at host:port within `timeoutMs`. */
export function isPortOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Runs one of scripts/setup/*.sh, streaming its progress lines; throws with its last line on failure. */
export function runSetupScript(name: string, env: Readonly<Record<string, string>> = {}): void {
  const result = spawnSync('bash', [join(projectRoot, 'scripts', 'setup', name)], {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  process.stderr.write(result.stderr ?? '');
  if (result.status !== 0) {
    const last = (result.stderr ?? '').trim().split('\n').pop() ?? `exit ${result.status}`;
    throw new Error(last.replace(/^\[setup\] ERROR: /, ''));
  }
}

/** Starts a long-lived daemon detached from this process, logging to `logFile`, and records its pid. */
export function startDaemon(
  command: string,
  args: readonly string[],
  pidFile: string,
  logFile: string,
): number {
  mkdirSync(dirname(pidFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  return child.pid;
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Removes the pid file. Returns whether a process was stopped. */
export async function stopDaemon(pidFile: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(pidFile);
  rmSync(pidFile, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(200);
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(300);
  }
  const tail =
    logFile && existsSync(logFile)
      ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ')
      : '';
  throw new Error(
    `${what} did not become ready in ${Math.round(timeoutMs / 1000)} s${tail ? `; last log lines: ${tail}` : ''}`,
  );
}
