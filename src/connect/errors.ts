import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type ConnectionSetupCode = 'tls_untrusted' | 'tls_required' | 'auth_failed';

/**
 * A connection that can never succeed as configured: the server's certificate is not trusted, the server
 * speaks TLS to a client that does not, or it refused the credentials. Retrying cannot help, so clients
 * give up at once with a message that names the setting to fix (never its value).
 */
export class ConnectionSetupError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: ConnectionSetupCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionSetupError';
  }
}

// Node's codes for a certificate it could not verify (OpenSSL's X509_V_ERR_* names, and the host-name check).
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Node's reason when `error` is a failed verification of the server's certificate, else undefined. */
export function untrustedCertificate(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNTRUSTED.has(code) ? (error as Error).message : undefined;
}

/**
 * True when host:port completes a TLS handshake (certificate not checked: only the protocol matters).
 * Used after a plaintext connection was closed before any answer, the sign of a TLS-only port.
 */
export function speaksTls(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((done) => {
    const socket = tlsConnect({
      host,
      port,
      rejectUnauthorized: false,
      ...(isIP(host) ? {} : { servername: host }),
    });
    const finish = (yes: boolean) => {
      socket.destroy();
      done(yes);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('secureConnect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
