import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileTokenSource, TokenCache, createTokenSource } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, SERVICE_ID, type Fixture } from './helpers.js';

let fx: Fixture;
let tokensDir: string;
let file: string;

beforeAll(async () => {
  fx = await createFixture();
  tokensDir = join(fx.dir, 'tokens');
  await mkdir(tokensDir);
  file = join(tokensDir, 'orders-db');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
});

/** Writes like the kubelet: a new file renamed over the old one. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${Date.now()}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

const mint = (extra: { ttlSeconds?: number; audience?: string } = {}): Promise<string> =>
  fx.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: extra.audience ?? 'orders-db', ...(extra.ttlSeconds === undefined ? {} : { ttlSeconds: extra.ttlSeconds }) });

describe('FileTokenSource', () => {
  it('reads the token with its expiry from the JWT and re-reads it after a rotation', async () => {
    const first = await mint();
    await writeAtomically(file, `${first}\n`);
    const source = new FileTokenSource({ files: { 'orders-db': file } });
    const t1 = await source.getToken('orders-db');
    expect(t1.value).toBe(first);
    expect(t1.expiresAt).toBeGreaterThan(Date.now() + 500_000);
    expect(await source.getToken('orders-db')).toBe(t1);
    const second = await mint();
    await writeAtomically(file, second);
    const t2 = await source.getToken('orders-db');
    expect(t2.value).toBe(second);
    await source.close();
  });

  it('retries a partial file caught mid-rotation and returns the complete token', async () => {
    const full = await mint();
    await writeFile(file, full.slice(0, 20));
    const source = new FileTokenSource({ files: { 'orders-db': file }, attempts: 6, retryDelayMs: 60 });
    const pending = source.getToken('orders-db');
    await new Promise((r) => setTimeout(r, 100));
    await writeFile(file, full);
    expect((await pending).value).toBe(full);
    await source.close();
  });

  it.each([
    ['empty', async () => ''],
    ['partial', async () => (await mint()).slice(0, 30)],
    ['expired', async () => mint({ ttlSeconds: -30 })],
    ['missing', async () => undefined],
  ])('a file that stays %s → TOKEN_UNAVAILABLE naming only the path', async (_kind, content) => {
    const path = join(tokensDir, `bad-${_kind}`);
    const value = await content();
    if (value !== undefined) await writeFile(path, value);
    const source = new FileTokenSource({ files: { 'orders-db': path }, attempts: 3, retryDelayMs: 50 });
    const started = Date.now();
    const error = await rejectionOf(source.getToken('orders-db'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    expect(error.message).toContain(path);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    if (value !== undefined && value.length > 0) {
      expect(error.message).not.toContain(value);
      expect(JSON.stringify(error)).not.toContain(value);
    }
    await source.close();
  });

  it('a token for another audience → TOKEN_INVALID; an unmapped audience → CONFIG_INVALID', async () => {
    await writeAtomically(file, await mint({ audience: 'docs-api' }));
    const source = new FileTokenSource({ files: { 'orders-db': file } });
    expect((await rejectionOf(source.getToken('orders-db'))).code).toBe('TOKEN_INVALID');
    expect((await rejectionOf(source.getToken('payments'))).code).toBe('CONFIG_INVALID');
    await source.close();
  });

  it('createTokenSource routes listed audiences to files and the rest to the issuer', async () => {
    const value = await mint();
    await writeAtomically(file, value);
    const source = createTokenSource(
      { issuer: fx.issuer.url, clientAuth: { method: 'tls_client_auth' }, files: { 'orders-db': file } },
      fx.certs,
      { serviceId: SERVICE_ID },
    );
    const cache = new TokenCache(source, { certificates: fx.certs });
    expect((await cache.getToken('orders-db')).value).toBe(value);
    expect(fx.issuer.requestCount('token')).toBe(0);
    const fromIssuer = await cache.getToken('docs-api');
    expect((await fx.issuer.verifyAccessToken(fromIssuer.value, { audience: 'docs-api' })).subject).toBe(SERVICE_ID);
    expect(fx.issuer.requestCount('token')).toBe(1);
    const { jti } = await fx.issuer.verifyAccessToken(fromIssuer.value, { audience: 'docs-api' });
    // revokeAll sends the issuer's token to /revoke and leaves the file token alone
    expect(await cache.revokeAll(AbortSignal.timeout(5_000))).toEqual({ revoked: 1, failed: 0 });
    expect(fx.issuer.requestCount('revoke')).toBe(1);
    expect(fx.issuer.isRevoked(jti)).toBe(true);
    expect(cache.cachedTokens().map((t) => t.audience)).toEqual(['orders-db']);
    await cache.close();
    const none = createTokenSource({}, fx.certs);
    const error = await rejectionOf(none.getToken('docs-api'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('"docs-api"');
    await none.close();
  });
});
