import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { SecureNosqlError } from '../errors/index.js';
import { matchSpiffeId, parseSpiffeIdPattern, type SpiffeId } from '../identity/spiffe-id.js';
import { readExtensions } from './der.js';
import { spkiPin, validatePins } from './pin.js';
import type { CertificateSource, ServerVerification } from './types.js';

/** The `checkServerIdentity` callback shape of `node:tls`. */
export type ServerIdentityCheck = (hostname: string, cert: PeerCertificate) => Error | undefined;

/**
 * Refuses TLS options that would turn peer verification off.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when `rejectUnauthorized` is `false` (or anything but `true`/absent).
 */
export function assertSecureTlsOptions(options: unknown, field = 'tls'): void {
  if (typeof options !== 'object' || options === null) return;
  const value = (options as { rejectUnauthorized?: unknown }).rejectUnauthorized;
  if (value !== undefined && value !== true) {
    throw new SecureNosqlError('CONFIG_INVALID', `${field}.rejectUnauthorized: false is never accepted: secure-nosql always verifies the server. Add the server's CA to the trust bundle instead.`, {
      details: { field: `${field}.rejectUnauthorized` },
    });
  }
}

function leafSpiffeId(cert: PeerCertificate): string | undefined {
  try {
    const uris = readExtensions(cert.raw).uris;
    return uris.length === 1 ? uris[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds the per-handshake server check: SPIFFE ID authorization (exact ID or
 * trust-domain membership against the server leaf's single URI SAN) or, when
 * no `serverId` is set, the standard hostname check; then SPKI pins.
 *
 * Node does not call `checkServerIdentity` on a resumed TLS session, so
 * callers that set pins or `serverId` must disable session caching on their
 * agent (see {@link SESSION_CACHE_OFF}).
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for a malformed serverId or pin.
 */
export function createServerIdentityCheck(verification: ServerVerification = {}): ServerIdentityCheck {
  assertSecureTlsOptions(verification, 'serverVerification');
  const pattern: SpiffeId | undefined = verification.serverId === undefined ? undefined : parseSpiffeIdPattern(verification.serverId, 'serverVerification.serverId');
  const pins = verification.pins === undefined ? undefined : new Set(validatePins(verification.pins, 'serverVerification.pins'));
  return (hostname, cert) => {
    if (pattern !== undefined) {
      const id = leafSpiffeId(cert);
      if (id === undefined || !matchSpiffeId(pattern, id)) {
        return new SecureNosqlError('CERT_IDENTITY_MISMATCH', `server ${hostname} presented ${id === undefined ? 'no single SPIFFE ID' : `SPIFFE ID ${id}`}, which is not authorized by serverId ${pattern.toString()}`, {
          details: { host: hostname, serverId: pattern.toString(), ...(id === undefined ? {} : { presented: id }) },
          remediation: 'Check serverId names the server workload (exact ID or spiffe://<trust domain>) and that the server presents its SVID.',
        });
      }
    } else {
      const error = checkServerIdentity(verification.servername ?? hostname, cert);
      if (error !== undefined) return error;
    }
    if (pins !== undefined) {
      const pin = spkiPin(new X509Certificate(cert.raw));
      if (!pins.has(pin)) {
        return new SecureNosqlError('TLS_PIN_MISMATCH', `server ${hostname} public key (pin ${pin}) matches none of the ${pins.size} configured pins`, {
          details: { host: hostname, presentedPin: pin },
        });
      }
    }
    return undefined;
  };
}

/**
 * Agent options that turn TLS session caching off. Use them (undici
 * `connect: { maxCachedSessions: 0 }`, `https.Agent({ maxCachedSessions: 0 })`)
 * whenever pins or a serverId are set: a resumed session skips
 * `checkServerIdentity`.
 */
export const SESSION_CACHE_OFF: Readonly<{ maxCachedSessions: 0 }> = Object.freeze({ maxCachedSessions: 0 });

/**
 * TLS options for ONE new connection, built from the source's current
 * generation (so connections opened after a rotation present the new
 * certificate; established ones keep theirs). Peer verification is always on
 * (`rejectUnauthorized: true`), TLS ≥ 1.2, and the server is checked by
 * {@link createServerIdentityCheck}.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for malformed verification settings.
 */
export function tlsConnectOptions(source: CertificateSource, verification: ServerVerification = {}): ConnectionOptions {
  return tlsConnector(source, verification)();
}

/**
 * Validates `verification` once and returns a function that builds
 * {@link tlsConnectOptions} for each new connection from the source's current
 * generation. Use it in connection factories (undici `connect`, driver pools).
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for malformed verification settings.
 */
export function tlsConnector(source: CertificateSource, verification: ServerVerification = {}): () => ConnectionOptions {
  const check = createServerIdentityCheck(verification);
  const servername = verification.servername === undefined ? {} : { servername: verification.servername };
  return () => ({
    secureContext: source.current().secureContext,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    checkServerIdentity: check,
    ...servername,
  });
}
