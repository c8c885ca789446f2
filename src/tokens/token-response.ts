import { SecureNosqlError } from '../errors/index.js';
import { createAccessToken } from './access-token.js';
import { audiencesOf, certificateThumbprintOf, readJwtClaims } from './jwt-claims.js';
import type { AccessToken } from './types.js';

/** RFC 8693 token type of an access token. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Local bounds on what an issuer may hand back. */
export interface TokenResponseLimits {
  /** Longest accepted `expires_in`, seconds. Default 86,400 (one day). */
  readonly maxExpiresInSeconds: number;
  /** Longest accepted `access_token`, bytes. Default 16,384. */
  readonly maxTokenBytes: number;
}

/** What the request was, so the response can be checked against it. */
export interface TokenRequestContext {
  readonly audience: string;
  readonly grant: 'client_credentials' | 'token_exchange';
  /** Local clock at the time the request was sent, ms. */
  readonly requestedAt: number;
  readonly certificateGeneration: number | undefined;
  readonly limits: TokenResponseLimits;
}

function invalid(audience: string, what: string): SecureNosqlError {
  return new SecureNosqlError('TOKEN_INVALID', `The issuer's token response for audience "${audience}" was rejected locally: ${what}.`, {
    details: { audience },
  });
}

function readExpiresIn(raw: unknown, ctx: TokenRequestContext): number {
  let seconds: number;
  if (typeof raw === 'number') seconds = raw;
  else if (typeof raw === 'string' && /^\d{1,10}$/.test(raw)) seconds = Number(raw);
  else throw invalid(ctx.audience, raw === undefined ? 'expires_in is missing' : 'expires_in is not a number');
  if (!Number.isFinite(seconds) || seconds <= 0) throw invalid(ctx.audience, 'expires_in is zero or negative');
  if (seconds > ctx.limits.maxExpiresInSeconds) {
    throw invalid(ctx.audience, `expires_in ${seconds} s exceeds the configured bound of ${ctx.limits.maxExpiresInSeconds} s`);
  }
  return seconds;
}

/** Checks the token value itself: non-empty, bounded, a single header-safe line. */
export function checkTokenValue(value: unknown, audience: string, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(audience, 'access_token is missing or empty');
  if (Buffer.byteLength(value, 'utf8') > maxBytes) throw invalid(audience, `access_token is longer than ${maxBytes} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\u0000]/.test(value)) throw invalid(audience, 'access_token contains CR, LF or NUL characters');
  if (/^\s|\s$/.test(value)) throw invalid(audience, 'access_token has leading or trailing whitespace');
  return value;
}

/**
 * Validates a parsed RFC 6749 / RFC 8693 token response and builds the token.
 * Throws TOKEN_INVALID (never retried) naming the field at fault, never the value.
 */
export function tokenFromResponse(body: Record<string, unknown>, ctx: TokenRequestContext): AccessToken {
  const value = checkTokenValue(body.access_token, ctx.audience, ctx.limits.maxTokenBytes);
  const tokenType = body.token_type;
  if (typeof tokenType !== 'string') throw invalid(ctx.audience, 'token_type is missing');
  const normalized = tokenType.toLowerCase();
  const typeOk = normalized === 'bearer' || (ctx.grant === 'token_exchange' && normalized === 'n_a');
  if (!typeOk) throw invalid(ctx.audience, `token_type "${tokenType.slice(0, 32)}" is not Bearer`);
  if (ctx.grant === 'token_exchange' && (typeof body.issued_token_type !== 'string' || body.issued_token_type.length === 0)) {
    throw invalid(ctx.audience, 'the token-exchange response has no issued_token_type');
  }
  const expiresIn = readExpiresIn(body.expires_in, ctx);
  let thumbprint: string | undefined;
  const claims = readJwtClaims(value);
  if (claims !== undefined) {
    if (!audiencesOf(claims).includes(ctx.audience)) throw invalid(ctx.audience, 'the token is a JWT whose aud does not include the requested audience');
    thumbprint = certificateThumbprintOf(claims);
  }
  const scope = typeof body.scope === 'string' && body.scope.length > 0 ? body.scope : undefined;
  return createAccessToken({
    value,
    tokenType: normalized === 'n_a' ? 'N_A' : 'Bearer',
    audience: ctx.audience,
    scope,
    issuedAt: ctx.requestedAt,
    // Measured from when the request left, so network time only shortens the lifetime.
    expiresAt: ctx.requestedAt + expiresIn * 1000,
    certificateThumbprint: thumbprint,
    certificateGeneration: ctx.certificateGeneration,
  });
}
