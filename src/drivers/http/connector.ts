import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { errors, type buildConnector } from 'undici';
import type { CertificateSource, ServerVerification } from '../../certificates/types.js';
import { tlsConnectOptions } from '../../certificates/tls.js';
import { isSecureNosqlError, SecureNosqlError } from '../../errors/index.js';

// OpenSSL verification failures Node reports as `error.code` on the socket.
const CHAIN_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'INVALID_PURPOSE',
]);

/** Turns a server-verification failure into a typed error (the guard passes SecureNosqlErrors through unretried). */
function verificationError(error: Error, host: string): Error {
  if (isSecureNosqlError(error)) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new SecureNosqlError('CERT_IDENTITY_MISMATCH', `The server certificate of ${host} is not valid for that name (hostname check failed); nothing was sent.`, {
      remediation: 'Connect with the name the server certificate carries (servername), or authorize the server by SPIFFE ID with serverId.',
      details: { host },
      cause: error,
    });
  }
  if (typeof code === 'string' && CHAIN_ERRORS.has(code)) {
    return new SecureNosqlError('CERT_INVALID', `The server certificate of ${host} failed verification against the trust bundle (${code}); nothing was sent.`, {
      remediation: "Check the server's certificate chain and validity, and that its CA is in the workload's trust bundle.",
      details: { host, reason: code },
      cause: error,
    });
  }
  return error;
}

/** Options of {@link createMtlsConnector}. */
export interface MtlsConnectorOptions {
  /** Where the client certificate comes from; read once per new connection. */
  readonly certificates: CertificateSource;
  /** How the server is verified (bundle always; SPIFFE ID or hostname; pins). */
  readonly verification: ServerVerification;
  /** TCP + TLS handshake deadline, ms. */
  readonly connectTimeoutMs: number;
}

/**
 * An undici `connect` function that opens every NEW connection with the
 * certificate generation current at that moment, so connections opened after
 * a rotation present the new certificate while established ones keep theirs.
 *
 * It never offers a TLS session for resumption: Node skips
 * `checkServerIdentity` (our SPIFFE ID, hostname and SPKI pin checks) on a
 * resumed session, so every connection runs a full handshake and every check.
 * On loopback this costs one extra ECDHE per connection, and connections are
 * kept alive, so it is not on the per-request path.
 */
export function createMtlsConnector(options: MtlsConnectorOptions): buildConnector.connector {
  const { certificates, verification, connectTimeoutMs } = options;
  // Validate serverId and pins once, at client creation (CONFIG_INVALID surfaces there).
  tlsConnectOptions(certificates, verification);
  return (target, callback) => {
    let done = false;
    const finish = (error: Error | null, socket: TLSSocket | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error !== null) {
        socket?.destroy();
        callback(verificationError(error, target.hostname), null);
      } else if (socket !== null) callback(null, socket);
    };
    let socket: TLSSocket;
    try {
      const tls = tlsConnectOptions(certificates, verification);
      const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
      // SNI may not carry an IP address (RFC 6066 §3).
      const servername = tls.servername ?? (isIP(host) === 0 ? host : undefined);
      socket = tlsConnect({
        ...tls,
        host,
        port: Number(target.port === '' ? 443 : target.port),
        ...(servername === undefined ? {} : { servername }),
        ALPNProtocols: ['http/1.1'],
        ...(target.localAddress == null ? {} : { localAddress: target.localAddress }),
      });
    } catch (error) {
      queueMicrotask(() => { callback(error instanceof Error ? error : new Error(String(error)), null); });
      return;
    }
    const timer = setTimeout(() => {
      finish(new errors.ConnectTimeoutError(`connect timeout after ${connectTimeoutMs} ms`), socket);
    }, connectTimeoutMs);
    timer.unref();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.once('secureConnect', () => { finish(null, socket); });
    socket.on('error', (error: Error) => { finish(error, socket); });
  };
}
