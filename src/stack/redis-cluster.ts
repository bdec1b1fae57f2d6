import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { runSetupScript, sleep, waitFor } from './process';

/** A throwaway Redis Cluster on loopback: its nodes' URLs, and stop() that ends them and removes their files. */
export interface LocalRedisCluster {
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

const SLOTS = 16_384;

/** A port nothing listens on now (the kernel's pick); the node binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function clusterOk(port: number): Promise<boolean> {
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return /cluster_state:ok/.test(await client.cluster('INFO'));
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Starts `nodes` redis-server processes with `cluster-enabled yes` (masters, no replicas) from the
 * provisioned binary (scripts/setup/redis.sh), splits the 16384 slots between them (CLUSTER ADDSLOTSRANGE),
 * introduces them (CLUSTER MEET) and waits until every node reports `cluster_state:ok`. Nothing persists:
 * the nodes run in a temporary directory that stop() removes. For tests: the processes are this
 * process's children.
 */
export async function startLocalRedisCluster(nodes = 3): Promise<LocalRedisCluster> {
  runSetupScript('redis.sh');
  const dir = mkdtempSync(join(tmpdir(), 'pdm-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const busPorts: number[] = [];
  // SIGKILL: the nodes keep nothing worth a clean shutdown, and their files go with the directory.
  // A process that exits without calling stop (a failed hook, process.exit) still takes its nodes with it.
  const killOnExit = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    const exited = running.map((child) => new Promise<void>((r) => child.once('exit', () => r())));
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(exited);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < nodes; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      ports.push(port);
      busPorts.push(busPort);
      // Each node its own directory: nodes.conf is the node's identity and must not be shared.
      const nodeDir = mkdtempSync(join(dir, `node-${port}-`));
      const args = ['--bind', '127.0.0.1', '--port', String(port), '--cluster-port', String(busPort)];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'));
      args.push('--dir', nodeDir, '--save', '', '--appendonly', 'no', '--daemonize', 'no');
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      children.push(child);
    }
    const clients = ports.map((port) => {
      // Refused connections while a node is still starting are retried (retryStrategy), not fatal.
      const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 50, retryStrategy: () => 50 });
      client.on('error', () => undefined);
      return client;
    });
    try {
      await Promise.all(clients.map((c) => c.ping()));
      await Promise.all(
        clients.map((c, i) => {
          const from = Math.floor((i * SLOTS) / nodes);
          const to = Math.floor(((i + 1) * SLOTS) / nodes) - 1;
          // A distinct epoch per node: no epoch-collision round before the cluster settles.
          return c
            .cluster('SET-CONFIG-EPOCH', i + 1)
            .then(() => c.call('CLUSTER', 'ADDSLOTSRANGE', from, to));
        }),
      );
      // The bus port is not port + 10000 here, so MEET names it.
      for (let i = 1; i < nodes; i++)
        await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', ports[i]!, busPorts[i]!);
    } finally {
      for (const c of clients) c.disconnect();
    }
    for (const port of ports)
      await waitFor(`Redis Cluster node 127.0.0.1:${port}`, () => clusterOk(port), 20_000);
    // Every node says ok once it knows all slots; a short settle lets the last gossip round reach them all.
    await sleep(100);
    return { urls: ports.map((p) => `redis://127.0.0.1:${p}`), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
