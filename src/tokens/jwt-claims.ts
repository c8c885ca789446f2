import { decodeJwt, type JWTPayload } from 'jose';

/**
 * Reads the claims of a compact JWT without verifying it, or undefined when
 * the value is not a well-formed JWT. The client treats access tokens as
 * opaque; this only serves local sanity checks (audience, expiry, binding).
 */
export function readJwtClaims(value: string): JWTPayload | undefined {
  if (value.split('.').length !== 3) return undefined;
  try {
    return decodeJwt(value);
  } catch {
    return undefined;
  }
}

/** The `aud` claim as a list. */
export function audiencesOf(claims: JWTPayload): readonly string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** The RFC 8705 `cnf.x5t#S256` confirmation, when present. */
export function certificateThumbprintOf(claims: JWTPayload): string | undefined {
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const thumbprint = (cnf as Record<string, unknown>)['x5t#S256'];
  return typeof thumbprint === 'string' && thumbprint.length > 0 ? thumbprint : undefined;
}
