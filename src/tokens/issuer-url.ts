import { SecureNosqlError } from '../errors/index.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Parses an issuer or endpoint URL: HTTPS only, plain HTTP only to a
 * loopback host when `allowInsecureLoopback` is set. `field` names the
 * configuration field in the error.
 */
export function checkIssuerUrl(raw: string, field: string, allowInsecureLoopback: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new SecureNosqlError('CONFIG_INVALID', `${field} is not a valid URL.`, {
      remediation: `Set ${field} to an absolute HTTPS URL such as https://issuer.internal.`,
      cause: error,
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new SecureNosqlError('CONFIG_INVALID', `${field} must not carry credentials in the URL.`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowInsecureLoopback && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new SecureNosqlError('CONFIG_INVALID', `${field} (${url.origin}) must use HTTPS; plain HTTP is allowed only to a loopback issuer with allowInsecureLoopback.`, {
    remediation: `Use an https:// URL for ${field}.`,
  });
}

/** RFC 8414 §3.1 metadata URL: the well-known segment goes between host and path. */
export function oauthMetadataUrl(issuer: URL): URL {
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '');
  return new URL(`${issuer.origin}/.well-known/oauth-authorization-server${path}`);
}

/** OpenID Connect Discovery URL: the well-known segment is appended. */
export function openIdMetadataUrl(issuer: URL): URL {
  const path = issuer.pathname.replace(/\/$/, '');
  return new URL(`${issuer.origin}${path}/.well-known/openid-configuration`);
}
