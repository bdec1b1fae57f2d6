import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import {
  isLoopback,
  isPortOpen,
  readPid,
  runSetupScript,
  stackDir,
  startDaemon,
  stopDaemon,
  waitFor,
} from './process';
import type { StackComponent } from './types';

async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export function redisComponent(url: string): StackComponent {
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  const dir = stackDir('redis');
  const pidFile = join(dir, 'redis.pid');
  const logFile = join(dir, 'redis.log');
  const bindHost = host === 'localhost' ? '127.0.0.1' : host;
  return {
    name: 'redis',
    async up(say) {
      if (await redisAnswers(url))
        return say({
          component: 'redis',
          state: 'reused',
          detail: `Redis at ${host}:${port} already answers`,
        });
      if (!isLoopback(host))
        throw new Error(`no Redis answers at ${host}:${port}; a local one is only started on loopback`);
      if (await isPortOpen(bindHost, port))
        throw new Error(
          `port ${port} is taken by something that does not answer as Redis (password set?); check PDM_REDIS_URL`,
        );
      runSetupScript('redis.sh');
      const dataDir = join(dir, `data-${port}`);
      mkdirSync(dataDir, { recursive: true });
      say({ component: 'redis', state: 'starting', detail: `redis-server on ${bindHost}:${port}` });
      // Append-only persistence so checkpoints and the model registry survive a restart of the local stack.
      const pid = startDaemon(
        'redis-server',
        [
          '--bind',
          bindHost,
          '--port',
          String(port),
          '--dir',
          dataDir,
          '--appendonly',
          'yes',
          '--save',
          '',
          '--daemonize',
          'no',
          '--protected-mode',
          'yes',
        ],
        pidFile,
        logFile,
      );
      await waitFor(`Redis at ${host}:${port}`, () => redisAnswers(url), 20_000, logFile);
      say({ component: 'redis', state: 'started', detail: `pid ${pid}, log ${logFile}` });
    },
    async down(say) {
      const stopped = await stopDaemon(pidFile);
      say({
        component: 'redis',
        state: stopped ? 'stopped' : 'not-running',
        detail: stopped ? '' : 'no Redis started by pdm',
      });
    },
    async status() {
      const pid = readPid(pidFile);
      return {
        component: 'redis',
        state: (await redisAnswers(url)) ? 'up' : 'down',
        detail: `${host}:${port}${pid ? ` (pid ${pid}, started by pdm)` : ''}`,
      };
    },
  };
}
