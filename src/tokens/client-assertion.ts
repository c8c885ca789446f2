import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { SecureNosqlError } from '../errors/index.js';

/** RFC 7523 client assertion type. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Longest accepted assertion lifetime, seconds. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 60;

const CURVE_ALGORITHMS: Readonly<Record<string, string>> = { prime256v1: 'ES256', 'P-256': 'ES256', secp384r1: 'ES384', 'P-384': 'ES384', secp521r1: 'ES512', 'P-521': 'ES512' };

/** The JWS algorithm that matches a private key (ES256 for P-256, RS256, EdDSA, ...). */
export function algorithmForKey(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = curve === undefined ? undefined : CURVE_ALGORITHMS[curve];
      if (alg !== undefined) return alg;
      break;
    }
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
    case 'ed448':
      return 'EdDSA';
    default:
      break;
  }
  throw new SecureNosqlError('CONFIG_INVALID', `The private_key_jwt key type (${key.asymmetricKeyType ?? 'unknown'}) has no supported JWS algorithm.`, {
    remediation: 'Use a P-256/P-384/P-521 EC, RSA or Ed25519 private key for private_key_jwt.',
  });
}

/** Parses a PEM private key; the error never echoes the PEM. */
export function parsePrivateKey(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new SecureNosqlError('CONFIG_INVALID', `The private_key_jwt key from ${where} is not a readable PEM private key.`, {
      remediation: 'Point clientAuth.keyFile at an unencrypted PKCS#8, SEC1 or PKCS#1 PEM private key.',
      cause: error,
    });
  }
}

/** What an assertion is built from. */
export interface AssertionParams {
  readonly clientId: string;
  /** The issuer identifier (RFC 7523 `aud`). */
  readonly audience: string;
  readonly key: KeyObject;
  /** Explicit algorithm; must match the key, HS* and `none` are refused. */
  readonly algorithm?: string | undefined;
  readonly keyId?: string | undefined;
  /** Lifetime, seconds (≤ 60). Default 60. */
  readonly lifetimeSeconds?: number;
}

/** Signs a fresh, single-use RFC 7523 client assertion (unique `jti`, `exp` ≤ 60 s). */
export async function signClientAssertion(params: AssertionParams): Promise<string> {
  const derived = algorithmForKey(params.key);
  const alg = params.algorithm ?? derived;
  if (/^(HS|none)/i.test(alg)) {
    throw new SecureNosqlError('CONFIG_INVALID', `clientAuth.algorithm "${alg}" is refused: private_key_jwt needs an asymmetric algorithm.`);
  }
  if (params.algorithm !== undefined && alg.slice(0, 2) !== derived.slice(0, 2)) {
    throw new SecureNosqlError('CONFIG_INVALID', `clientAuth.algorithm "${alg}" does not match the key type (expected ${derived}).`);
  }
  const lifetime = Math.min(MAX_ASSERTION_LIFETIME_SECONDS, Math.max(1, params.lifetimeSeconds ?? MAX_ASSERTION_LIFETIME_SECONDS));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, typ: 'JWT', ...(params.keyId === undefined ? {} : { kid: params.keyId }) })
    .setIssuer(params.clientId)
    .setSubject(params.clientId)
    .setAudience(params.audience)
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + lifetime)
    .setJti(randomUUID())
    .sign(params.key);
}
