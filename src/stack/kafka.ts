import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  isLoopback,
  isPortOpen,
  projectRoot,
  readPid,
  runSetupScript,
  stackDir,
  startDaemon,
  stopDaemon,
  waitFor,
} from './process';
import type { StackComponent, StackEvent } from './types';

/** The broker version pdm resolves and starts when it has none to reuse: deploy/kafka/pom.xml's, or PDM_KAFKA_VERSION. */
export const DEFAULT_KAFKA_VERSION =
  /<kafka.version>(.*)<\/kafka.version>/.exec(
    readFileSync(join(projectRoot, 'deploy', 'kafka', 'pom.xml'), 'utf8'),
  )?.[1] ?? '4.4.0';

/** True when a Kafka broker answers a metadata request (a TCP accept alone is not enough while it starts). */
async function brokerAnswers(brokers: readonly string[]): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'pdm-stack-probe',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1500,
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The local broker's second client listener, for clients that must reach it through a TCP relay: it listens
 * on `listen` and advertises `relay`, so a client bootstrapped at the relay keeps all its traffic there (the
 * fault suite stalls one worker's broker traffic this way, leaving its Redis traffic alone). Nothing listens
 * on `relay` unless a test starts a relay.
 */
export function relayedListener(port: number): { readonly listen: number; readonly relay: number } {
  return { listen: port + 2, relay: port + 3 };
}

function serverProperties(host: string, port: number, dataDir: string): string {
  const controllerPort = port + 1;
  const relayed = relayedListener(port);
  // Single node, KRaft combined mode. Replication factors of 1 for the internal topics, and no initial
  // rebalance delay so that tests and the demo don't wait 3 s for every new consumer group.
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort},RELAYED://${host}:${relayed.listen}`,
    `advertised.listeners=PLAINTEXT://${host}:${port},RELAYED://${host}:${relayed.relay}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,RELAYED:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=4',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=8',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    'log.retention.hours=-1',
    'message.max.bytes=10485760',
    '',
  ].join('\n');
}

// Kafka 3.x logs through slf4j → reload4j (log4j.properties); 4.x also configures log4j 2 directly.
const LOG4J =
  'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\nlog4j.logger.kafka.server.KafkaServer=INFO\nlog4j.logger.kafka.server.BrokerServer=INFO\n';
const LOG4J2 =
  'status = warn\nappender.stdout.type = Console\nappender.stdout.name = stdout\nappender.stdout.layout.type = PatternLayout\nappender.stdout.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = warn\nrootLogger.appenderRef.stdout.ref = stdout\n';

export function kafkaComponent(
  brokers: readonly string[],
  version: string = DEFAULT_KAFKA_VERSION,
): StackComponent {
  const first = brokers[0] ?? 'localhost:9092';
  const [host = 'localhost', portText = '9092'] = first.split(':');
  const port = Number(portText);
  const dir = stackDir('kafka');
  const pidFile = join(dir, 'kafka.pid');
  const logFile = join(dir, 'server.log');
  const bindHost = host === 'localhost' ? '127.0.0.1' : host;

  return {
    name: 'kafka',
    async up(say: (e: StackEvent) => void) {
      if (await brokerAnswers(brokers))
        return say({ component: 'kafka', state: 'reused', detail: `broker at ${first} already answers` });
      if (!isLoopback(host))
        throw new Error(
          `no Kafka broker answers at ${first}; a local one is only started on loopback (set PDM_KAFKA_BROKERS to localhost:PORT)`,
        );
      if (await isPortOpen(bindHost, port))
        throw new Error(
          `port ${port} is taken by something that is not a Kafka broker; choose another with PDM_KAFKA_BROKERS=localhost:PORT`,
        );
      runSetupScript('kafka.sh', { PDM_KAFKA_VERSION: version });
      const libs = join(projectRoot, '.cache', 'kafka', version, 'libs');
      // One data directory per version: a 3.9 and a 4.x broker never share (or upgrade) each other's metadata.
      const dataDir = join(dir, `data-${version}-${port}`);
      const props = join(dir, `server-${port}.properties`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(props, serverProperties(bindHost, port, dataDir));
      writeFileSync(join(dir, 'log4j.properties'), LOG4J);
      writeFileSync(join(dir, 'log4j2.properties'), LOG4J2);
      const java = [
        '-Xms256m',
        '-Xmx1g',
        `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
        `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
        '-cp',
        `${libs}/*`,
      ];
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        const format = spawnSync(
          'java',
          [
            ...java,
            'kafka.tools.StorageTool',
            'format',
            '-t',
            randomUUID().replace(/-/g, '').slice(0, 22),
            '-c',
            props,
          ],
          { encoding: 'utf8' },
        );
        if (format.status !== 0)
          throw new Error(
            `formatting Kafka storage failed: ${(format.stderr || format.stdout).trim().split('\n').pop()}`,
          );
      }
      say({
        component: 'kafka',
        state: 'starting',
        detail: `Kafka ${version} (KRaft) on ${bindHost}:${port}, data in ${dataDir}`,
      });
      const pid = startDaemon('java', [...java, 'kafka.Kafka', props], pidFile, logFile);
      await waitFor(`Kafka broker at ${first}`, () => brokerAnswers(brokers), 90_000, logFile);
      say({ component: 'kafka', state: 'started', detail: `pid ${pid}, log ${logFile}` });
    },
    async down(say) {
      const stopped = await stopDaemon(pidFile);
      say({
        component: 'kafka',
        state: stopped ? 'stopped' : 'not-running',
        detail: stopped ? '' : 'no broker started by pdm',
      });
    },
    async status() {
      const pid = readPid(pidFile);
      return {
        component: 'kafka',
        state: (await brokerAnswers(brokers)) ? 'up' : 'down',
        detail: `${first}${pid ? ` (pid ${pid}, started by pdm)` : ''}`,
      };
    },
  };
}
