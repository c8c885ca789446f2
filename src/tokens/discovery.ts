import type { Agent } from 'undici';
import { SecureNosqlError } from '../errors/index.js';
import { TransientIssuerFailure, issuerHttp, parseJsonObject } from './issuer-http.js';
import { checkIssuerUrl, oauthMetadataUrl, openIdMetadataUrl } from './issuer-url.js';

/** The parts of RFC 8414 metadata the client uses. */
export interface IssuerMetadata {
  /** The issuer identifier (equal to the configured one). */
  readonly issuer: string;
  /** `token_endpoint`. */
  readonly tokenEndpoint: URL;
  /** `revocation_endpoint` (RFC 7009), when published. */
  readonly revocationEndpoint: URL | undefined;
  /** `introspection_endpoint` (RFC 7662), when published. */
  readonly introspectionEndpoint: URL | undefined;
  /** `jwks_uri`, when published. */
  readonly jwksUri: URL | undefined;
}

/**
 * Reads RFC 8414 metadata (falling back to OpenID Connect discovery on 404)
 * and checks that its `issuer` equals the configured identifier exactly
 * (RFC 8414 §3.3), so a mix-up or impersonating metadata document is refused.
 */
export async function discoverIssuer(
  agent: Agent,
  issuerUrl: URL,
  configured: string,
  allowInsecureLoopback: boolean,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<IssuerMetadata> {
  let body: Record<string, unknown> | undefined;
  let source = '';
  for (const url of [oauthMetadataUrl(issuerUrl), openIdMetadataUrl(issuerUrl)]) {
    const res = await issuerHttp(agent, url, { method: 'GET' }, signal, timeoutMs);
    if (res.status === 404) continue;
    if (res.status === 429 || res.status >= 500 || res.status === 408) {
      throw Object.assign(new TransientIssuerFailure(`metadata HTTP ${res.status}`), { retryAfterMs: res.retryAfterMs });
    }
    if (res.status !== 200) {
      throw new SecureNosqlError('CONFIG_INVALID', `The issuer metadata at ${url.href} answered HTTP ${res.status}.`, {
        remediation: 'Check tokens.issuer is the issuer identifier (its RFC 8414 metadata must be served).',
      });
    }
    body = parseJsonObject(res.body);
    if (body === undefined) throw new TransientIssuerFailure('malformed metadata document');
    source = url.href;
    break;
  }
  if (body === undefined) {
    throw new SecureNosqlError('CONFIG_INVALID', `No RFC 8414 or OpenID metadata was found for issuer ${configured}.`, {
      remediation: 'Check tokens.issuer is the issuer identifier exactly as the issuer publishes it.',
    });
  }
  if (body.issuer !== configured) {
    throw new SecureNosqlError('CONFIG_INVALID', `The metadata at ${source} names a different issuer than tokens.issuer (${configured}).`, {
      remediation: 'Set tokens.issuer to exactly the issuer identifier the metadata publishes; a mismatch may mean a mix-up attack.',
    });
  }
  const endpoint = (field: string): URL | undefined => {
    const value = body[field];
    return typeof value === 'string' ? checkIssuerUrl(value, `issuer metadata ${field}`, allowInsecureLoopback) : undefined;
  };
  const tokenEndpoint = endpoint('token_endpoint');
  if (tokenEndpoint === undefined) {
    throw new SecureNosqlError('CONFIG_INVALID', `The metadata at ${source} has no token_endpoint.`);
  }
  return {
    issuer: configured,
    tokenEndpoint,
    revocationEndpoint: endpoint('revocation_endpoint'),
    introspectionEndpoint: endpoint('introspection_endpoint'),
    jwksUri: endpoint('jwks_uri'),
  };
}
