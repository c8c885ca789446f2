import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JSONWebKeySet, type JWK, type JWTPayload, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  /** When it stops being published (after rotation); undefined while current. */
  retiresAt: number | undefined;
}

/** The issuer's ES256 signing keys: one current, rotated-out ones published for a grace period. */
export class SigningKeys {
  readonly #keys: SigningKey[] = [];
  readonly #graceMs: number;

  private constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /** Creates a key ring with one fresh key. */
  static async create(graceSeconds: number): Promise<SigningKeys> {
    const ring = new SigningKeys(graceSeconds * 1000);
    await ring.rotate();
    return ring;
  }

  /** Adds a fresh current key; the previous one stays published for the grace period. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const now = Date.now();
    for (const key of this.#keys) key.retiresAt ??= now + this.#graceMs;
    this.#keys.unshift({ kid, privateKey, publicJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' }, retiresAt: undefined });
    return kid;
  }

  /** The published JWKS (current key first). */
  jwks(): JSONWebKeySet {
    const now = Date.now();
    return { keys: this.#keys.filter((k) => k.retiresAt === undefined || k.retiresAt > now).map((k) => k.publicJwk) };
  }

  /** Signs `claims` with the current key (adds `jti` when absent). */
  sign(claims: JWTPayload): Promise<string> {
    const current = this.#keys[0] as SigningKey;
    return new SignJWT({ jti: randomUUID(), ...claims }).setProtectedHeader({ alg: 'ES256', kid: current.kid, typ: 'JWT' }).sign(current.privateKey);
  }

  /** Verifies a JWT against the published keys. */
  verify(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    return jwtVerify(token, createLocalJWKSet(this.jwks()), { algorithms: ['ES256'], ...options });
  }
}
