import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createRedis } from '../../src/redis/client';
import { projectRoot, readPid, stackDir, startDaemon, stopDaemon, waitFor } from '../../src/stack/process';
import { brokerAnswers, freePort } from '../faults/harness';

/**
 * A Kafka broker that only speaks SASL_SSL (SCRAM-SHA-512) and a Redis that only speaks TLS, both on
 * loopback with ports, certificates, users and passwords made up for this run, in a temp directory removed
 * afterwards. The shared stack on 9092/6379 is never touched. One per test file: the broker is the costly part.
 */

/**
 * The Kafka jars the project runs: the version `deploy/kafka/pom.xml` names, under .cache/kafka (as
 * src/stack/kafka.ts resolves it). PDM_TEST_KAFKA_LIBS points at another version's libs folder instead
 * (how this suite was also run against Kafka 4.1.1).
 */
export function kafkaLibs(): { version: string; libs: string } {
  const override = process.env.PDM_TEST_KAFKA_LIBS;
  if (override) {
    const jar = readdirSync(override).find((f) => /^kafka_2\.13-.*\.jar$/.test(f));
    if (!jar) throw new Error(`PDM_TEST_KAFKA_LIBS=${override} holds no kafka_2.13-<version>.jar`);
    return { version: jar.slice('kafka_2.13-'.length, -'.jar'.length), libs: override };
  }
  const version = /<kafka.version>(.*)<\/kafka.version>/.exec(
    readFileSync(join(projectRoot, 'deploy', 'kafka', 'pom.xml'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('deploy/kafka/pom.xml names no <kafka.version>');
  const libs = join(projectRoot, '.cache', 'kafka', version, 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka ${version} jars in ${libs}: run \`npm run setup\``);
  return { version, libs };
}

export interface SecureStack {
  readonly kafkaVersion: string;
  /** localhost:PORT of the SASL_SSL listener (its certificate names localhost and 127.0.0.1). */
  readonly broker: string;
  /** host:port of Redis's TLS port (it has no plaintext port). */
  readonly redisHostPort: string;
  readonly dir: string;
  /** The CA that signed both servers' certificates, and one that signed nothing they present. */
  readonly caFile: string;
  readonly unknownCaFile: string;
  readonly kafkaPassword: string;
  readonly redisPassword: string;
  /** PDM_* for a client that uses both correctly; merge over testEnv() so topics and prefix stay isolated. */
  readonly env: Readonly<Record<string, string>>;
  readonly kafkaLog: string;
  readonly redisLog: string;
}

const openssl = (dir: string, args: string[]) => {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`openssl ${args[0]} failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
};

/** A CA and a server certificate it signs for localhost/127.0.0.1 (EC P-256: cheap to make), plus an unrelated CA. */
function makeCertificates(dir: string): {
  ca: string;
  unknownCa: string;
  cert: string;
  key: string;
  keystore: string;
} {
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=pdm test CA',
    ...caExt,
  ]);
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'unknown-ca.key',
    '-out',
    'unknown-ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=pdm test CA',
    ...caExt,
  ]);
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  // Kafka's PEM key store is one file: the (unencrypted PKCS#8) key, then the certificate chain.
  const keystore = join(dir, 'kafka-keystore.pem');
  writeFileSync(
    keystore,
    readFileSync(join(dir, 'server.key'), 'utf8') +
      readFileSync(join(dir, 'server.pem'), 'utf8') +
      readFileSync(join(dir, 'ca.pem'), 'utf8'),
  );
  return {
    ca: join(dir, 'ca.pem'),
    unknownCa: join(dir, 'unknown-ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    keystore,
  };
}

function brokerProperties(o: {
  port: number;
  controllerPort: number;
  dataDir: string;
  keystore: string;
  ca: string;
  adminPassword: string;
}): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    // The only listener clients reach is SASL_SSL; the broker talks to itself over it too (as user admin).
    `listeners=SASL_SSL://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    `advertised.listeners=SASL_SSL://localhost:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=SASL_SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${o.adminPassword}";`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${o.keystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${o.ca}`,
    `log.dirs=${o.dataDir}`,
    'num.partitions=2',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=2',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    '',
  ].join('\n');
}

/** True when Redis answers PING over TLS with these credentials, through the project's client (no retries). */
async function redisAnswers(env: Record<string, string>): Promise<boolean> {
  const client = createRedis(loadConfig(env), {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

// Pids this module started, recorded so that a run killed before its after hook cannot leave daemons behind
// for the next one (only processes that still run from or name a pdm-secure temp dir are killed).
const PIDS = join(stackDir('secure'), 'pids.json');
const MARK = 'pdm-secure-';
function recorded(): number[] {
  try {
    return JSON.parse(readFileSync(PIDS, 'utf8')) as number[];
  } catch {
    return [];
  }
}
function record(pids: number[]): void {
  mkdirSync(stackDir('secure'), { recursive: true });
  writeFileSync(PIDS, JSON.stringify(pids));
}
function killStrays(): void {
  for (const pid of recorded()) {
    // Java keeps its command line (it names the temp dir); redis-server rewrites it, but runs in its data dir.
    let marks = '';
    try {
      marks = readFileSync(`/proc/${pid}/cmdline`, 'utf8') + readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (marks.includes(MARK)) process.kill(pid, 'SIGKILL');
  }
  record([]);
}

/** Starts both servers; `stop()` kills them and removes the directory (also on process exit). */
export async function startSecureStack(): Promise<SecureStack & { stop(): Promise<void> }> {
  killStrays();
  const { version, libs } = kafkaLibs();
  const dir = mkdtempSync(join(tmpdir(), MARK));
  const certs = makeCertificates(dir);
  const [port, controllerPort, redisPort] = [await freePort(), await freePort(), await freePort()];
  const kafkaPassword = randomBytes(12).toString('hex');
  const adminPassword = randomBytes(12).toString('hex');
  const redisPassword = randomBytes(12).toString('hex');
  const kafkaPid = join(dir, 'kafka.pid');
  const redisPid = join(dir, 'redis.pid');
  const kafkaLog = join(dir, 'kafka.log');
  const redisLog = join(dir, 'redis.log');
  const stop = async () => {
    await Promise.all([stopDaemon(kafkaPid, 3_000), stopDaemon(redisPid, 3_000)]);
    record([]);
    rmSync(dir, { recursive: true, force: true });
  };
  const killNow = () => {
    for (const file of [kafkaPid, redisPid]) {
      const pid = readPid(file);
      if (pid) process.kill(pid, 'SIGKILL');
    }
  };
  process.once('exit', killNow);
  try {
    const props = join(dir, 'server.properties');
    writeFileSync(
      props,
      brokerProperties({
        port,
        controllerPort,
        dataDir: join(dir, 'kafka-data'),
        keystore: certs.keystore,
        ca: certs.ca,
        adminPassword,
      }),
    );
    // Log4j 1 (Kafka 3.x) reads this; Kafka 4.x (log4j 2) ignores it and logs errors only. Failed
    // authentications are logged by the Selector at INFO: useful when a test fails.
    writeFileSync(
      join(dir, 'log4j.properties'),
      'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\nlog4j.logger.org.apache.kafka.common.network.Selector=INFO\n',
    );
    // Small heap and C1 only: this broker lives for one test file on a machine with few cores.
    const java = [
      '-Xms128m',
      '-Xmx512m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
      '-cp',
      `${libs}/*`,
    ];
    const scram = (name: string, password: string) => [
      '--add-scram',
      `SCRAM-SHA-512=[name=${name},password=${password}]`,
    ];
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
        ...scram('admin', adminPassword),
        ...scram('pdm', kafkaPassword),
      ],
      { encoding: 'utf8' },
    );
    if (format.status !== 0)
      throw new Error(
        `formatting Kafka ${version} storage failed: ${(format.stderr || format.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    const kafka = startDaemon('java', [...java, 'kafka.Kafka', props], kafkaPid, kafkaLog);
    mkdirSync(join(dir, 'redis-data'));
    const redis = startDaemon(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        certs.cert,
        '--tls-key-file',
        certs.key,
        '--tls-ca-cert-file',
        certs.ca,
        '--tls-auth-clients',
        'no',
        '--dir',
        join(dir, 'redis-data'),
        '--save',
        '',
        '--appendonly',
        'no',
        '--user',
        'default',
        'off',
        '--user',
        'pdm',
        'on',
        `>${redisPassword}`,
        '~*',
        '&*',
        '+@all',
      ],
      redisPid,
      redisLog,
    );
    record([kafka, redis]);
    const env: Record<string, string> = {
      PDM_KAFKA_BROKERS: `localhost:${port}`,
      PDM_KAFKA_TLS: 'true',
      PDM_KAFKA_TLS_CA_FILE: certs.ca,
      PDM_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      PDM_KAFKA_SASL_USERNAME: 'pdm',
      PDM_KAFKA_SASL_PASSWORD: kafkaPassword,
      PDM_REDIS_URL: `rediss://127.0.0.1:${redisPort}`,
      PDM_REDIS_TLS_CA_FILE: certs.ca,
      PDM_REDIS_USERNAME: 'pdm',
      PDM_REDIS_PASSWORD: redisPassword,
    };
    await waitFor('TLS Redis', () => redisAnswers(env), 20_000, redisLog);
    await waitFor(
      `Kafka ${version} SASL_SSL listener`,
      () => brokerAnswers(createKafka(loadConfig(env))),
      120_000,
      kafkaLog,
    );
    return {
      kafkaVersion: version,
      broker: env.PDM_KAFKA_BROKERS!,
      redisHostPort: `127.0.0.1:${redisPort}`,
      dir,
      caFile: certs.ca,
      unknownCaFile: certs.unknownCa,
      kafkaPassword,
      redisPassword,
      env,
      kafkaLog,
      redisLog,
      stop,
    };
  } catch (error) {
    killNow();
    record([]);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Registers before/after hooks that start the secure stack for this test file and tear it down; returns
 * an accessor for the tests. The stack owns its cleanup, so a test file never copies a teardown block.
 */
export function useSecureStack(): () => SecureStack {
  let stack: Awaited<ReturnType<typeof startSecureStack>> | undefined;
  before(
    async () => {
      stack = await startSecureStack();
    },
    { timeout: 180_000 },
  );
  after(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the secure stack did not start (see the before hook)');
    return stack;
  };
}
