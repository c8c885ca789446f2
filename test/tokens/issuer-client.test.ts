import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OAuthTokenSource } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, SERVICE_ID, type Fixture } from './helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
});

function body200(extra: Record<string, unknown>): { status: number; body: string } {
  return { status: 200, body: JSON.stringify({ access_token: 'opaque-token-abc', token_type: 'Bearer', expires_in: 300, ...extra }) };
}

describe('OAuthTokenSource against MockTokenIssuer (tls_client_auth)', () => {
  it('discovers the issuer and gets a certificate-bound token for the audience', async () => {
    const source = fx.source();
    const token = await source.getToken('docs-api');
    expect(token.audience).toBe('docs-api');
    expect(token.tokenType).toBe('Bearer');
    expect(token.expiresAt - Date.now()).toBeGreaterThan(290_000);
    expect(token.certificateThumbprint).toBe(fx.certs.current().thumbprintSha256);
    expect(token.certificateGeneration).toBe(fx.certs.current().generation);
    const verified = await fx.issuer.verifyAccessToken(token.value, { audience: 'docs-api' });
    expect(verified.subject).toBe(SERVICE_ID);
    expect(verified.roles).toEqual(['orders-rw']);
    expect(fx.issuer.requestCount('metadata')).toBe(1);
    expect(fx.issuer.requestCount('token')).toBe(1);
    expect(fx.issuer.requestCountFor(SERVICE_ID, 'token')).toBe(1);
    const sent = fx.issuer.requests('token')[0]!.params;
    expect(sent.resource).toBe('docs-api');
    expect(sent.audience).toBe('docs-api');
    expect(sent.grant_type).toBe('client_credentials');
  });

  it('sends the audience only as resource when configured', async () => {
    const source = fx.source({ audienceParameter: 'resource' });
    await source.getToken('orders-db');
    const sent = fx.issuer.requests('token')[0]!.params;
    expect(sent.resource).toBe('orders-db');
    expect(sent.audience).toBeUndefined();
  });

  it('refuses metadata that names another issuer and plain HTTP issuers', async () => {
    const wrong = fx.source({ issuer: `${fx.issuer.url}/` });
    const error = await rejectionOf(wrong.getToken('docs-api'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(fx.issuer.requestCount('token')).toBe(0);
    expect(() => fx.source({ issuer: 'http://issuer.example.com' })).toThrow(/HTTPS/);
    expect(() => fx.source({ issuer: 'http://127.0.0.1:1' })).toThrow(/HTTPS/);
    expect(() => fx.source({ issuer: 'http://127.0.0.1:1', allowInsecureLoopback: true })).not.toThrow();
  });

  it('503 with Retry-After is retried after the delay', async () => {
    const source = fx.source();
    await source.metadata();
    fx.issuer.failNext(1, { status: 503, retryAfter: 1 });
    const started = Date.now();
    const token = await source.getToken('docs-api');
    expect(token.audience).toBe('docs-api');
    expect(fx.issuer.requestCount('token')).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('429 and 5xx until the attempts run out → TOKEN_UNAVAILABLE after exactly maxAttempts requests', async () => {
    const source = fx.source({ retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 10 } });
    fx.issuer.failNext(2, { status: 429, retryAfter: 0 });
    fx.issuer.failNext(10, { status: 502 });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(error.message).toContain('4 attempt');
    expect(fx.issuer.requestCount('token')).toBe(4);
  });

  it('a Retry-After beyond the bound ends the retries at once', async () => {
    const source = fx.source({ retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 10, maxRetryAfterMs: 2_000 } });
    fx.issuer.failNext(5, { status: 503, retryAfter: 120 });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(fx.issuer.requestCount('token')).toBe(1);
  });

  it('400 invalid_client → AUTH_REJECTED after 1 request, and no request during the floor', async () => {
    const source = fx.source({ rejectionFloorMs: 400 });
    fx.issuer.failNext(1, { status: 400, error: 'invalid_client' });
    const first = await rejectionOf(source.getToken('docs-api'));
    expect(first.code).toBe('AUTH_REJECTED');
    expect(fx.issuer.requestCount('token')).toBe(1);
    const during = await rejectionOf(source.getToken('docs-api'));
    expect(during.code).toBe('AUTH_REJECTED');
    expect(fx.issuer.requestCount('token')).toBe(1);
    await new Promise((r) => setTimeout(r, 450));
    await source.getToken('docs-api');
    expect(fx.issuer.requestCount('token')).toBe(2);
  });

  it.each([
    [400, 'invalid_grant'],
    [400, 'unauthorized_client'],
    [401, 'invalid_token'],
    [401, undefined],
  ])('%s %s → AUTH_REJECTED with one request', async (status, error) => {
    const source = fx.source();
    fx.issuer.failNext(1, { status, ...(error === undefined ? { body: '' } : { error }) });
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('AUTH_REJECTED');
    expect(fx.issuer.requestCount('token')).toBe(1);
  });

  it('a client that is not registered is rejected by the issuer → AUTH_REJECTED', async () => {
    const source = fx.source({ clientId: 'spiffe://example.test/ns/other/sa/unknown' });
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('AUTH_REJECTED');
    expect(fx.issuer.requestCount('token')).toBe(1);
  });

  it('invalid_target → CONFIG_INVALID naming the audience, one request', async () => {
    const source = fx.source();
    const error = await rejectionOf(source.getToken('payments-db'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('"payments-db"');
    expect(error.message).toContain('invalid_target');
    expect(fx.issuer.requestCount('token')).toBe(1);
  });

  it('a malformed 200 body is retried, then TOKEN_UNAVAILABLE', async () => {
    const source = fx.source();
    fx.issuer.malformNext(1);
    expect((await source.getToken('docs-api')).audience).toBe('docs-api');
    expect(fx.issuer.requestCount('token')).toBe(2);
    fx.issuer.resetCounters();
    fx.issuer.malformNext(10);
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('TOKEN_UNAVAILABLE');
    expect(fx.issuer.requestCount('token')).toBe(3);
  });

  it.each([
    ['missing expires_in', { expires_in: undefined }],
    ['non-numeric expires_in', { expires_in: 'soon' }],
    ['zero expires_in', { expires_in: 0 }],
    ['negative expires_in', { expires_in: -5 }],
    ['absurd expires_in', { expires_in: 10 * 365 * 86_400 }],
    ['fractional NaN-like expires_in', { expires_in: null }],
    ['token_type mac', { token_type: 'mac' }],
    ['token_type missing', { token_type: undefined }],
    ['empty access_token', { access_token: '' }],
    ['CRLF in access_token', { access_token: 'abc\r\nX-Injected: 1' }],
    ['oversize access_token', { access_token: 'a'.repeat(17 * 1024) }],
  ])('%s → TOKEN_INVALID with one request', async (_name, extra) => {
    const source = fx.source();
    fx.issuer.failNext(1, body200(extra));
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_INVALID');
    expect(fx.issuer.requestCount('token')).toBe(1);
    expect(error.message).not.toContain('opaque-token-abc');
  });

  it('a JWT whose aud does not include the audience → TOKEN_INVALID', async () => {
    const source = fx.source();
    const jwt = await fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'some-other-api' });
    fx.issuer.failNext(1, body200({ access_token: jwt }));
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_INVALID');
    expect(error.message).toContain('aud');
    expect(JSON.stringify(error)).not.toContain(jwt);
  });

  it('accepts a case-insensitive bearer token_type and an opaque token', async () => {
    const source = fx.source();
    fx.issuer.failNext(1, body200({ token_type: 'bearer', expires_in: '120' }));
    const token = await source.getToken('docs-api');
    expect(token.value).toBe('opaque-token-abc');
    expect(token.certificateThumbprint).toBeUndefined();
  });

  it('a redirect is not followed', async () => {
    const source = fx.source();
    fx.issuer.failNext(1, { status: 302, body: '', contentType: 'text/plain' });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(fx.issuer.requestCount('token')).toBe(1);
  });

  it('a hanging issuer times each attempt out and ends in TOKEN_UNAVAILABLE', async () => {
    const source = fx.source({ attemptTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    await source.metadata();
    fx.issuer.hang('token');
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(error.message).toContain('150 ms');
    expect(fx.issuer.requestCount('token')).toBe(2);
  });

  it("the caller's signal aborts the request", async () => {
    const source = fx.source();
    await source.metadata();
    fx.issuer.hang('token');
    const error = await rejectionOf(source.getToken('docs-api', { signal: AbortSignal.timeout(100) }));
    expect(error.code).toBe('ABORTED');
  });

  it('network errors are transient', async () => {
    const source = new OAuthTokenSource({
      issuer: 'https://127.0.0.1:1',
      clientAuth: { method: 'tls_client_auth' },
      clientId: SERVICE_ID,
      certificates: fx.certs,
      retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(error.message).toContain('2 attempt');
    await source.close();
  });

  it('revokes a token at the RFC 7009 endpoint (introspection then reports it inactive)', async () => {
    const source = fx.source();
    const token = await source.getToken('docs-api');
    const { jti } = await fx.issuer.verifyAccessToken(token.value, { audience: 'docs-api' });
    await source.revoke(token);
    expect(fx.issuer.isRevoked(jti)).toBe(true);
    expect(fx.issuer.requestCount('revoke')).toBe(1);
    await expect(fx.issuer.verifyAccessToken(token.value, { audience: 'docs-api' })).rejects.toThrow(/revoked/);
  });
});
