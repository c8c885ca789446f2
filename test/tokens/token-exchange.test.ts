import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OAuthTokenSource, TokenCache } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, type Fixture } from './helpers.js';

const SA = 'system:serviceaccount:orders:orders-api';
let fx: Fixture;
let subjectFile: string;

beforeAll(async () => {
  fx = await createFixture((id) => [
    { id, audiences: ['docs-api'] },
    { id: SA, audiences: ['docs-api', 'orders-db'], authMethod: 'token_exchange', roles: ['orders-ro'], scopes: ['read', 'write'] },
  ]);
  subjectFile = join(fx.dir, 'sa-token');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(async () => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
  await writeFile(subjectFile, `${await fx.issuer.mintSubjectToken({ subject: SA })}\n`);
});

function exchangeSource(): OAuthTokenSource {
  return new OAuthTokenSource({
    issuer: fx.issuer.url,
    clientAuth: { method: 'token_exchange', subjectTokenFile: subjectFile },
    ca: fx.pki.caCertPem,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    rejectionFloorMs: 0,
  });
}

describe('RFC 8693 token exchange', () => {
  it('exchanges the projected token for an audience-scoped access token', async () => {
    const source = exchangeSource();
    const token = await source.getToken('orders-db', { scopes: ['read'] });
    expect(token.audience).toBe('orders-db');
    expect(token.scope).toBe('read');
    const verified = await fx.issuer.verifyAccessToken(token.value, { audience: 'orders-db' });
    expect(verified.subject).toBe(SA);
    expect(verified.roles).toEqual(['orders-ro']);
    const form = fx.issuer.requests('token')[0]!.params;
    expect(form.grant_type).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(form.subject_token_type).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(form.requested_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(form.audience).toBe('orders-db');
    await source.close();
  });

  it('re-reads the subject token file on every exchange', async () => {
    const source = exchangeSource();
    await source.getToken('docs-api');
    const rotated = await fx.issuer.mintSubjectToken({ subject: SA, claims: { rotation: 2 } });
    await writeFile(subjectFile, rotated);
    await source.getToken('docs-api');
    const sent = fx.issuer.requests('token').map((r) => r.params.subject_token);
    expect(sent[1]).toBe(rotated);
    expect(sent[0]).not.toBe(rotated);
    // a subject the issuer does not know → invalid_grant → AUTH_REJECTED
    await writeFile(subjectFile, await fx.issuer.mintSubjectToken({ subject: 'system:serviceaccount:evil:x' }));
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('AUTH_REJECTED');
    await source.close();
  });

  it('an expired subject token is rejected by the issuer → AUTH_REJECTED', async () => {
    const source = exchangeSource();
    await writeFile(subjectFile, await fx.issuer.mintSubjectToken({ subject: SA, ttlSeconds: -60 }));
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('AUTH_REJECTED');
    expect(fx.issuer.requestCount('token')).toBe(1);
    await source.close();
  });

  it('a response without issued_token_type → TOKEN_INVALID; N_A token_type is accepted', async () => {
    const source = exchangeSource();
    fx.issuer.failNext(1, { status: 200, body: JSON.stringify({ access_token: 'x-opaque', token_type: 'Bearer', expires_in: 60 }) });
    expect((await rejectionOf(source.getToken('docs-api'))).code).toBe('TOKEN_INVALID');
    fx.issuer.failNext(1, {
      status: 200,
      body: JSON.stringify({ access_token: 'x-opaque', token_type: 'N_A', expires_in: 60, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
    });
    expect((await source.getToken('docs-api')).tokenType).toBe('N_A');
    await source.close();
  });

  it('works through the TokenCache (one exchange for many callers)', async () => {
    const cache = new TokenCache(exchangeSource());
    await Promise.all(Array.from({ length: 100 }, () => cache.getToken('docs-api')));
    expect(fx.issuer.requestCount('token')).toBe(1);
    await cache.close();
  });

  it('an empty subject token file is retried, then TOKEN_UNAVAILABLE', async () => {
    const source = exchangeSource();
    await writeFile(subjectFile, '');
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(fx.issuer.requestCount('token')).toBe(0);
    await source.close();
  });
});
