import assert from 'node:assert/strict';
import { test } from 'node:test';
import Redis from 'ioredis';
import { ConnectionSetupError, RedisConnectGuard, untrustedCertificate } from '../../src/connect';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

test('certificate verification failures are told apart from network failures', () => {
  assert.equal(
    untrustedCertificate(coded('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN')),
    'self-signed certificate in certificate chain',
  );
  assert.match(
    untrustedCertificate(
      coded("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'),
    ) ?? '',
    /altnames/,
  );
  assert.equal(
    untrustedCertificate(coded('certificate has expired', 'CERT_HAS_EXPIRED')),
    'certificate has expired',
  );
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])
    assert.equal(untrustedCertificate(coded(code, code)), undefined, code);
  assert.equal(untrustedCertificate(new Error('no code')), undefined);
  assert.equal(untrustedCertificate(undefined), undefined);
});

test('Redis: after an untrusted certificate or refused credentials nothing is retried and the error names the variable', async () => {
  const cases = [
    {
      error: coded('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
      code: 'tls_untrusted',
      names: /PDM_REDIS_TLS_CA_FILE/,
    },
    {
      error: new Error('WRONGPASS invalid username-password pair or user is disabled.'),
      code: 'auth_failed',
      names: /PDM_REDIS_PASSWORD/,
    },
    { error: new Error('NOAUTH Authentication required.'), code: 'auth_failed', names: /PDM_REDIS_URL/ },
  ];
  for (const c of cases) {
    const guard = new RedisConnectGuard('rediss://pdm:s3cret@127.0.0.1:1');
    const retry = guard.retryStrategy(() => 100);
    // The guard sees the error the way ioredis reports it, as an event; the connect below meets a closed port.
    const redis = guard.attach(
      new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: retry }),
    );
    try {
      assert.equal(retry(1), 100, 'a network failure is retried');
      redis.emit('error', c.error);
      assert.equal(retry(2), null, `${c.code}: not retried`);
      redis.emit('error', new Error('a later, different error'));
      await assert.rejects(
        redis.connect(),
        (e: unknown) =>
          e instanceof ConnectionSetupError &&
          e.code === c.code &&
          c.names.test(e.message) &&
          !e.message.includes('s3cret'),
      );
    } finally {
      redis.disconnect();
    }
  }
});

test('Redis: a connection error that retrying can fix stays retried', () => {
  const guard = new RedisConnectGuard('redis://127.0.0.1:1');
  const retry = guard.retryStrategy((times) => times * 10);
  const redis = guard.attach(new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true }));
  try {
    redis.emit('error', coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'));
    assert.equal(retry(3), 30);
  } finally {
    redis.disconnect();
  }
});
