import { SecureNosqlError } from '../../errors/index.js';

/** A validated HTTPS origin. */
export interface ParsedOrigin {
  /** Serialised origin (`https://host[:port]`, default port omitted, host lower-case). */
  readonly origin: string;
  /** Host name or IP (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
}

/**
 * Validates the client's origin: an absolute `https:` URL with no user info,
 * path, query or fragment.
 *
 * @throws SecureNosqlError `CONFIG_INVALID`
 */
export function parseOrigin(value: unknown, field = 'origin'): ParsedOrigin {
  const fail = (why: string): never => {
    throw new SecureNosqlError('CONFIG_INVALID', `${field} ${why}; expected an HTTPS origin such as https://docs.internal:8443`, { details: { field } });
  };
  if (typeof value !== 'string' || value === '') return fail('is missing');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('is not a URL');
  }
  if (url.protocol !== 'https:') return fail(`uses ${url.protocol.replace(':', '')}, not https (mutual TLS is required)`);
  if (url.username !== '' || url.password !== '') return fail('must not contain user info');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') return fail('must not contain a path, query or fragment');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { origin: url.origin, hostname, port: url.port === '' ? 443 : Number(url.port) };
}

/** The serialised origin of a dispatch's `origin` option, or undefined when it is absent or malformed. */
export function originOf(value: string | URL | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof URL) return value.origin;
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}
