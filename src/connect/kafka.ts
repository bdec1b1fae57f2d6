import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory, Kafka } from 'kafkajs';
import { ConnectionSetupError, speaksTls, untrustedCertificate } from './errors';

const tlsRequired = (host: string, port: number) =>
  new ConnectionSetupError(
    'tls_required',
    `Kafka broker ${host}:${port} speaks TLS and closed our plaintext connection; set PDM_KAFKA_TLS=true (and PDM_KAFKA_TLS_CA_FILE if its CA is private)`,
  );

/**
 * A TLS record header (alert 0x15 or handshake 0x16, version 3.x). A Kafka response starts with its int32
 * size instead, and one of 0x1503xxxx bytes (350 MB) is not an answer to the first request of a connection.
 */
const looksLikeTls = (chunk: Buffer) => (chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03;

/**
 * kafkajs retries every socket-level failure (a TLS certificate it cannot verify, a TLS port answered in
 * plaintext) like a broker that is briefly away: about 70-90 s with our retry settings before the first
 * error surfaces, with a message that names no setting. This guard, one per kafkajs client, watches the
 * sockets (its `socketFactory` is kafkajs's default plus listeners) and, once such a failure is seen,
 * ends kafkajs's retry loop and makes `connect()` reject with a ConnectionSetupError.
 */
export class KafkaConnectGuard {
  private fatal: ConnectionSetupError | undefined;
  private probing = false;

  constructor(private readonly brokerList: readonly string[]) {}

  /**
   * The seed brokers, as a function: kafkajs calls it before each connection attempt, and an empty list
   * is the one answer its retry loop treats as not retriable, so a known fatal failure stops the loop.
   */
  readonly brokers = (): string[] => (this.fatal ? [] : [...this.brokerList]);

  readonly socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    // kafkajs reports a throw here as a connection error; the next seed-broker lookup then stops its loop.
    if (this.fatal) throw this.fatal;
    // kafkajs's own factory, unchanged: TLS when `ssl` is set, keep-alive after 60 s.
    const socket: Socket = ssl
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : netConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', (error) => {
      const reason = untrustedCertificate(error);
      if (reason)
        this.fail(
          new ConnectionSetupError(
            'tls_untrusted',
            `Kafka broker ${host}:${port}: its TLS certificate is not trusted (${reason}); set PDM_KAFKA_TLS_CA_FILE to the CA that signed it`,
          ),
        );
    });
    if (!ssl) {
      let connected = false;
      let answered = false;
      socket.once('connect', () => (connected = true));
      socket.once('data', (chunk: Buffer) => {
        answered = true;
        if (looksLikeTls(chunk)) this.fail(tlsRequired(host, port));
      });
      socket.once('close', () => {
        if (connected && !answered) void this.probeTls(host, port);
      });
    }
    return socket;
  };

  /** Wraps the client factories so that `connect()` rejects with the fatal failure, or a clear SASL error. */
  guard(kafka: Kafka): Kafka {
    const wrap = <C extends { connect(): Promise<void> }>(client: C): C => {
      const connect = client.connect.bind(client);
      client.connect = () =>
        connect().catch((error: unknown) => {
          throw this.explain(error);
        });
      return client;
    };
    const admin = kafka.admin.bind(kafka);
    const producer = kafka.producer.bind(kafka);
    const consumer = kafka.consumer.bind(kafka);
    kafka.admin = (config) => wrap(admin(config));
    kafka.producer = (config) => wrap(producer(config));
    kafka.consumer = (config) => wrap(consumer(config));
    return kafka;
  }

  private explain(error: unknown): unknown {
    if (this.fatal) return this.fatal;
    if (error instanceof Error && error.name === 'KafkaJSSASLAuthenticationError') {
      return new ConnectionSetupError(
        'auth_failed',
        `Kafka broker refused the SASL credentials (${error.message}); check PDM_KAFKA_SASL_MECHANISM, PDM_KAFKA_SASL_USERNAME and PDM_KAFKA_SASL_PASSWORD`,
      );
    }
    return error;
  }

  private fail(error: ConnectionSetupError): void {
    this.fatal ??= error;
  }

  /** A plaintext connection answered with TLS, or closed before any answer: if the port speaks TLS, TLS is what is missing. */
  private async probeTls(host: string, port: number): Promise<void> {
    if (this.probing || this.fatal) return;
    this.probing = true;
    try {
      if (await speaksTls(host, port)) this.fail(tlsRequired(host, port));
    } finally {
      this.probing = false;
    }
  }
}
