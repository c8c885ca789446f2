import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, SERVICE_ID, type Fixture } from './helpers.js';

const ROLE = 'arn:aws:iam::123456789012:role/orders-rw';
let fx: Fixture;
let agent: Agent;
const jwtKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  fx = await createFixture(
    (id) => [
      { id, audiences: ['docs-api'], roles: ['orders-rw'] },
      { id: 'jwt-client', audiences: ['docs-api'], authMethod: 'private_key_jwt', publicKey: jwtKey.publicKey.export({ type: 'spki', format: 'pem' }) as string },
    ],
    { stsSessionSeconds: 900, keyGraceSeconds: 1 },
  );
  agent = new Agent({ connect: { ca: fx.pki.caCertPem } });
});
afterAll(async () => {
  await agent.close();
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
  fx.issuer.clockSkew(0);
});

async function post(url: string, form: Record<string, string>): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

function sts(token: string, extra: Record<string, string> = {}): ReturnType<typeof post> {
  return post(fx.issuer.stsUrl, { Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'orders-api', WebIdentityToken: token, ...extra });
}

const tag = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

describe('MockTokenIssuer', () => {
  it('publishes RFC 8414 metadata and an ES256 JWKS', async () => {
    const res = await request(`${fx.issuer.url}/.well-known/oauth-authorization-server`, { dispatcher: agent });
    const meta = (await res.body.json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(fx.issuer.url);
    expect(meta.token_endpoint).toBe(fx.issuer.tokenEndpoint);
    expect(meta.jwks_uri).toBe(fx.issuer.jwksUrl);
    const jwks = (await (await request(fx.issuer.jwksUrl, { dispatcher: agent })).body.json()) as { keys: { alg: string; kty: string; crv: string; d?: string }[] };
    expect(jwks.keys[0]).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256' });
    expect(jwks.keys[0]!.d).toBeUndefined();
    expect(fx.issuer.requestCount('metadata')).toBe(1);
    expect(fx.issuer.requestCount('jwks')).toBe(1);
  });

  it('keeps the previous signing key published for the grace period after rotation', async () => {
    const before = await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'docs-api' });
    const kid = await fx.issuer.rotateSigningKey();
    expect(fx.issuer.jwks().keys).toHaveLength(2);
    expect(fx.issuer.jwks().keys[0]!.kid).toBe(kid);
    await expect(fx.issuer.verifyAccessToken(before, { audience: 'docs-api' })).resolves.toBeDefined();
    await new Promise((r) => setTimeout(r, 1_100));
    expect(fx.issuer.jwks().keys).toHaveLength(1);
    await expect(fx.issuer.verifyAccessToken(before, { audience: 'docs-api' })).rejects.toThrow();
  });

  it('private_key_jwt: rejects a replayed assertion, a wrong aud and a long-lived assertion', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = (claims: Record<string, unknown>): Promise<string> =>
      new SignJWT({ jti: randomUUID(), ...claims }).setProtectedHeader({ alg: 'ES256' }).setIssuer('jwt-client').setSubject('jwt-client').setIssuedAt(now).sign(jwtKey.privateKey);
    const form = (a: string): Record<string, string> => ({ grant_type: 'client_credentials', client_id: 'jwt-client', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a, audience: 'docs-api' });
    const good = await assertion({ aud: fx.issuer.url, exp: now + 60 });
    expect((await post(fx.issuer.tokenEndpoint, form(good))).status).toBe(200);
    const replay = await post(fx.issuer.tokenEndpoint, form(good));
    expect(replay.status).toBe(401);
    expect(replay.json().error).toBe('invalid_client');
    expect((await post(fx.issuer.tokenEndpoint, form(await assertion({ aud: 'https://elsewhere', exp: now + 60 })))).json().error).toBe('invalid_client');
    expect((await post(fx.issuer.tokenEndpoint, form(await assertion({ aud: fx.issuer.url, exp: now + 3600 })))).json().error).toBe('invalid_client');
    expect(fx.issuer.requestCountFor('jwt-client', 'token')).toBe(4);
  });

  it('a client without a valid certificate cannot use tls_client_auth', async () => {
    const res = await post(fx.issuer.tokenEndpoint, { grant_type: 'client_credentials', client_id: SERVICE_ID, audience: 'docs-api' });
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('introspection reports active, revoked and expired tokens; revoke by jti', async () => {
    const token = await fx.source().getToken('docs-api');
    const active = (await post(`${fx.issuer.url}/introspect`, { token: token.value })).json();
    expect(active.active).toBe(true);
    expect(active.sub).toBe(SERVICE_ID);
    const { jti } = await fx.issuer.verifyAccessToken(token.value, { audience: 'docs-api' });
    fx.issuer.revoke(jti);
    expect(fx.issuer.isRevoked(jti)).toBe(true);
    expect((await post(`${fx.issuer.url}/introspect`, { token: token.value })).json().active).toBe(false);
    const expired = await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, ttlSeconds: -10 });
    expect((await post(`${fx.issuer.url}/introspect`, { token: expired })).json().active).toBe(false);
    expect(fx.issuer.requestCount('introspect')).toBe(3);
  });

  it('clock skew shifts minted iat/exp', async () => {
    fx.issuer.clockSkew(-3600);
    const token = await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'docs-api', ttlSeconds: 600 });
    fx.issuer.clockSkew(0);
    await expect(fx.issuer.verifyAccessToken(token, { audience: 'docs-api' })).rejects.toThrow();
  });

  it('delay(ms) holds answers back', async () => {
    fx.issuer.delay(200, 'jwks');
    const started = Date.now();
    await (await request(fx.issuer.jwksUrl, { dispatcher: agent })).body.dump();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  describe('STS AssumeRoleWithWebIdentity', () => {
    it('issues session credentials and records the session', async () => {
      const web = await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'sts.amazonaws.com' });
      const res = await sts(web);
      expect(res.status).toBe(200);
      const keyId = tag(res.text, 'AccessKeyId')!;
      expect(keyId).toMatch(/^ASIA/);
      expect(tag(res.text, 'SecretAccessKey')).toBeDefined();
      expect(tag(res.text, 'SessionToken')).toBeDefined();
      expect(tag(res.text, 'SubjectFromWebIdentityToken')).toBe(SERVICE_ID);
      expect(tag(res.text, 'Arn')).toBe('arn:aws:sts::123456789012:assumed-role/orders-rw/orders-api');
      const expiration = Date.parse(tag(res.text, 'Expiration')!);
      expect(expiration - Date.now()).toBeGreaterThan(890_000);
      expect(expiration - Date.now()).toBeLessThanOrEqual(900_000);
      const session = fx.issuer.sessionFor(keyId)!;
      expect(session.roleArn).toBe(ROLE);
      expect(session.subject).toBe(SERVICE_ID);
      expect(session.secretAccessKey).toBe(tag(res.text, 'SecretAccessKey'));
      fx.issuer.expireSession(keyId);
      expect(fx.issuer.sessionFor(keyId)!.expiresAt).toBeLessThan(Date.now());
      expect(fx.issuer.requestCount('sts')).toBe(1);
    });

    it('answers STS XML errors: bad signature, wrong audience, expired, role not allowed, injected IdP failure', async () => {
      const foreign = await new SignJWT({ sub: SERVICE_ID, aud: 'sts.amazonaws.com' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('5m').sign(jwtKey.privateKey);
      expect(tag((await sts(foreign)).text, 'Code')).toBe('InvalidIdentityToken');
      expect(tag((await sts(await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'docs-api' }))).text, 'Code')).toBe('InvalidIdentityToken');
      expect(tag((await sts(await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'sts.amazonaws.com', ttlSeconds: -60 }))).text, 'Code')).toBe('ExpiredTokenException');
      const denied = await sts(await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'sts.amazonaws.com' }), { RoleArn: 'arn:aws:iam::123456789012:role/admin' });
      expect(denied.status).toBe(403);
      expect(tag(denied.text, 'Code')).toBe('AccessDenied');
      fx.issuer.failNext(1, { endpoint: 'sts', status: 400, error: 'IDPCommunicationError' });
      expect(tag((await sts('x')).text, 'Code')).toBe('IDPCommunicationError');
    });
  });
});
