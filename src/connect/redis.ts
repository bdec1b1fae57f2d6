import type Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { ConnectionSetupError, speaksTls, untrustedCertificate } from './errors';

const AUTH_REFUSED = /^(WRONGPASS|NOAUTH)|invalid (username-)?password/i;

/**
 * ioredis reconnects forever on every failure, so a certificate it cannot verify, refused credentials or a
 * plaintext client on a TLS port left `connect()` pending and commands failing with "Connection is closed."
 * or "Reached the max retries per request limit". This guard classifies the client's errors; after a fatal
 * one it stops reconnecting, and what was waiting (and what comes later) fails with a ConnectionSetupError.
 */
export class RedisConnectGuard {
  private fatal: ConnectionSetupError | undefined;
  private probe: Promise<void> | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;

  constructor(url: string) {
    const parsed = new URL(url);
    this.host = parsed.hostname || '127.0.0.1';
    this.port = Number(parsed.port || 6379);
    this.tls = parsed.protocol === 'rediss:';
  }

  /** The caller's retry strategy, except that nothing is retried after a fatal failure. */
  retryStrategy(
    inner: NonNullable<RedisOptions['retryStrategy']>,
  ): NonNullable<RedisOptions['retryStrategy']> {
    return (times) => (this.fatal ? null : inner(times));
  }

  attach(redis: Redis): Redis {
    const where = `Redis at ${this.host}:${this.port}`;
    let ready = false;
    redis.on('ready', () => (ready = true));
    redis.on('error', (error: Error) => this.classify(error, where));
    redis.on('close', () => {
      if (!this.tls && !ready && !this.probe && !this.fatal) this.probe = this.probeTls(where);
      ready = false;
    });
    // ioredis rejects queued commands through flushQueue and a pending connect() with generic messages:
    // put the fatal failure in their place. flushQueue is internal to ioredis 5, hence the checks.
    const flush: unknown = Reflect.get(redis, 'flushQueue');
    if (typeof flush === 'function') {
      Reflect.set(redis, 'flushQueue', (error: Error, options?: unknown) => {
        this.classify(error, where);
        Reflect.apply(flush, redis, [this.fatal ?? error, options]);
      });
    }
    const connect = redis.connect.bind(redis);
    // connect() rejects at the first close, possibly before the TLS probe has answered: wait for it.
    redis.connect = (callback) =>
      connect(callback).catch(async (error: unknown) => {
        await this.probe;
        throw this.fatal ?? error;
      });
    return redis;
  }

  private classify(error: Error, where: string): void {
    const reason = untrustedCertificate(error);
    if (reason)
      this.fatal ??= new ConnectionSetupError(
        'tls_untrusted',
        `${where}: its TLS certificate is not trusted (${reason}); set PDM_REDIS_TLS_CA_FILE to the CA that signed it`,
      );
    else if (AUTH_REFUSED.test(error.message))
      this.fatal ??= new ConnectionSetupError(
        'auth_failed',
        `${where} refused the credentials (${error.message.split('.')[0]}); check the user and password in PDM_REDIS_URL or PDM_REDIS_USERNAME/PDM_REDIS_PASSWORD`,
      );
  }

  /** A plaintext connection closed before Redis was ready: if the port speaks TLS, rediss:// is what is missing. */
  private async probeTls(where: string): Promise<void> {
    try {
      if (await speaksTls(this.host, this.port))
        this.fatal ??= new ConnectionSetupError(
          'tls_required',
          `${where} speaks TLS and closed our plaintext connection; use a rediss:// URL in PDM_REDIS_URL (and PDM_REDIS_TLS_CA_FILE if its CA is private)`,
        );
    } finally {
      this.probe = undefined;
    }
  }
}
