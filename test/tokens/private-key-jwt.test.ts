import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OAuthTokenSource } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, type Fixture } from './helpers.js';

let fx: Fixture;
const keys: Record<string, { file: string; publicKey: string }> = {};

beforeAll(async () => {
  fx = await createFixture();
  const pairs = {
    ec: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ed: generateKeyPairSync('ed25519'),
  };
  for (const [name, pair] of Object.entries(pairs)) {
    const file = join(fx.dir, `${name}.key`);
    await writeFile(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    keys[name] = { file, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string };
    fx.issuer.addClient({ id: `jwt-client-${name}`, audiences: ['docs-api'], authMethod: 'private_key_jwt', publicKey: keys[name].publicKey });
  }
  // the workload key itself (no key file): the client's public key is the certificate's
  const workloadPublic = createPublicKey(fx.certs.current().certificatePem).export({ type: 'spki', format: 'pem' }) as string;
  fx.issuer.addClient({ id: 'jwt-client-workload', audiences: ['docs-api'], authMethod: 'private_key_jwt', publicKey: workloadPublic, bindToCertificate: false });
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
});

function jwtSource(name: string, extra: Partial<ConstructorParameters<typeof OAuthTokenSource>[0]> = {}): OAuthTokenSource {
  return new OAuthTokenSource({
    issuer: fx.issuer.url,
    clientAuth: { method: 'private_key_jwt', clientId: `jwt-client-${name}`, keyFile: keys[name]!.file },
    ca: fx.pki.caCertPem,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    ...extra,
  });
}

describe('private_key_jwt (RFC 7523)', () => {
  it.each([
    ['ec', 'ES256'],
    ['rsa', 'RS256'],
    ['ed', 'EdDSA'],
  ])('%s key → %s assertions that the issuer accepts', async (name, alg) => {
    const source = jwtSource(name);
    const token = await source.getToken('docs-api');
    expect((await fx.issuer.verifyAccessToken(token.value, { audience: 'docs-api' })).subject).toBe(`jwt-client-${name}`);
    const [assertion] = fx.issuer.receivedAssertions();
    expect(decodeProtectedHeader(assertion!).alg).toBe(alg);
    await source.close();
  });

  it('every assertion is unique (jti) and short-lived, with iss = sub = client_id and aud = the issuer', async () => {
    const source = jwtSource('ec');
    fx.issuer.failNext(2, { status: 503 });
    await source.getToken('docs-api');
    for (let i = 0; i < 5; i++) await source.getToken('docs-api');
    const assertions = fx.issuer.receivedAssertions();
    expect(assertions).toHaveLength(8);
    const jtis = new Set<string>();
    for (const a of assertions) {
      const claims = decodeJwt(a);
      expect(claims.iss).toBe('jwt-client-ec');
      expect(claims.sub).toBe('jwt-client-ec');
      expect(claims.aud).toBe(fx.issuer.url);
      expect(typeof claims.iat).toBe('number');
      expect(claims.exp! - claims.iat!).toBeGreaterThan(0);
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(60);
      expect(claims.exp! * 1000).toBeLessThanOrEqual(Date.now() + 61_000);
      jtis.add(claims.jti!);
      expect(decodeProtectedHeader(a).alg).not.toMatch(/^HS/);
    }
    expect(jtis.size).toBe(8);
    const form = fx.issuer.requests('token')[0]!.params;
    expect(form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(form.client_id).toBe('jwt-client-ec');
    await source.close();
  });

  it('signs with the workload key when no key file is given', async () => {
    const source = new OAuthTokenSource({
      issuer: fx.issuer.url,
      clientAuth: { method: 'private_key_jwt', clientId: 'jwt-client-workload' },
      certificates: fx.certs,
    });
    const token = await source.getToken('docs-api');
    expect(token.audience).toBe('docs-api');
    await source.close();
  });

  it('refuses HS* and mismatched algorithms locally, before any request', async () => {
    for (const algorithm of ['HS256', 'RS256']) {
      const source = new OAuthTokenSource({
        issuer: fx.issuer.url,
        clientAuth: { method: 'private_key_jwt', clientId: 'jwt-client-ec', keyFile: keys.ec!.file, algorithm },
        ca: fx.pki.caCertPem,
      });
      expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('CONFIG_INVALID');
      await source.close();
    }
    expect(fx.issuer.requestCount('token')).toBe(0);
  });

  it('a key the issuer does not know → AUTH_REJECTED (invalid_client), one request', async () => {
    const source = new OAuthTokenSource({
      issuer: fx.issuer.url,
      clientAuth: { method: 'private_key_jwt', clientId: 'jwt-client-ec', keyFile: keys.rsa!.file },
      ca: fx.pki.caCertPem,
    });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('AUTH_REJECTED');
    expect(error.message).toContain('invalid_client');
    expect(fx.issuer.requestCount('token')).toBe(1);
    await source.close();
  });
});
