import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { OAuthTokenSource, TokenCache } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, type Fixture } from './helpers.js';

const CANARY = 'CANARYtok3nValue0123456789';
let fx: Fixture;
let keyFile: string;
let keyPem: string;
let output: string[];

beforeAll(async () => {
  fx = await createFixture();
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  keyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  keyFile = join(fx.dir, 'client.key');
  await writeFile(keyFile, keyPem);
  fx.issuer.addClient({ id: 'canary-client', audiences: ['docs-api'], authMethod: 'private_key_jwt', publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string });
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
  output = [];
  const capture = (chunk: unknown): boolean => {
    output.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) vi.spyOn(console, m).mockImplementation((...a: unknown[]) => output.push(a.map(String).join(' ')));
});
afterEach(() => {
  vi.restoreAllMocks();
});

function everyView(error: Error): string {
  const e = error as Error & { toJSON?: () => unknown };
  return [e.message, e.stack ?? '', String(e), inspect(e, { depth: 10 }), JSON.stringify(e), JSON.stringify(e.toJSON?.())].join('\n');
}

function assertClean(text: string, ...secrets: string[]): void {
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('secrets never leak', () => {
  it('tokens redact themselves in toString, toJSON and util.inspect', async () => {
    const source = fx.source();
    const token = await source.getToken('docs-api');
    // eslint-disable-next-line @typescript-eslint/no-base-to-string, @typescript-eslint/restrict-template-expressions
    const views = [String(token), `${token}`, JSON.stringify(token), inspect(token), inspect({ nested: token }, { depth: 5 }), JSON.stringify({ ...token }), Object.keys(token).join(',')];
    for (const v of views) expect(v).not.toContain(token.value);
    expect(JSON.stringify(token)).toContain('[REDACTED]');
    expect(token.value.length).toBeGreaterThan(100);
    expect(Object.isFrozen(token)).toBe(true);
  });

  it.each([
    ['CRLF', { access_token: `${CANARY}\r\nX: 1` }],
    ['bad token_type', { access_token: CANARY, token_type: 'mac' }],
    ['bad expires_in', { access_token: CANARY, expires_in: -1 }],
    ['oversize', { access_token: CANARY.repeat(1000) }],
  ])('a canary token in a rejected response (%s) is in no error view or output', async (_n, extra) => {
    const cache = new TokenCache(fx.source());
    fx.issuer.failNext(1, { status: 200, body: JSON.stringify({ token_type: 'Bearer', expires_in: 60, ...extra }) });
    const error = await rejectionOf(cache.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_INVALID');
    assertClean(everyView(error), CANARY);
    assertClean(output.join('\n'), CANARY);
    await cache.close();
  });

  it('a canary token in an error body is in no error view', async () => {
    const source = fx.source();
    fx.issuer.failNext(3, { status: 503, body: JSON.stringify({ error: 'temporarily_unavailable', error_description: CANARY, access_token: CANARY }) });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('TOKEN_UNAVAILABLE');
    assertClean(everyView(error), CANARY);
    fx.issuer.failNext(1, { status: 401, body: JSON.stringify({ error: `invalid_client ${CANARY}`, error_description: CANARY }) });
    const rejected = await rejectionOf(source.getToken('docs-api'));
    expect(rejected.code).toBe('AUTH_REJECTED');
    assertClean(everyView(rejected), CANARY);
    assertClean(output.join('\n'), CANARY);
  });

  it('the client assertion and the private key are in no error view or output', async () => {
    const source = new OAuthTokenSource({ issuer: fx.issuer.url, clientAuth: { method: 'private_key_jwt', clientId: 'canary-client', keyFile }, ca: fx.pki.caCertPem, rejectionFloorMs: 0 });
    const cache = new TokenCache(source);
    fx.issuer.failNext(1, { status: 401, error: 'invalid_client' });
    const error = await rejectionOf(cache.getToken('docs-api'));
    expect(error.code).toBe('AUTH_REJECTED');
    const [assertion] = fx.issuer.receivedAssertions();
    expect(assertion).toBeDefined();
    const keyBody = keyPem.split('\n')[1]!;
    assertClean(everyView(error), assertion!, keyBody);
    // a successful token, revoked; then a transient outage
    const token = await source.getToken('docs-api');
    fx.issuer.failNext(3, { status: 500, endpoint: 'revoke' });
    const revokeError = await rejectionOf(source.revoke(token));
    assertClean(everyView(revokeError), token.value, keyBody, ...fx.issuer.receivedAssertions());
    assertClean(output.join('\n'), token.value, keyBody, ...fx.issuer.receivedAssertions());
    await cache.close();
  });

  it('an unreadable key file with canary content is never echoed', async () => {
    const bad = join(fx.dir, 'bad.key');
    await writeFile(bad, `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`);
    const source = new OAuthTokenSource({ issuer: fx.issuer.url, clientAuth: { method: 'private_key_jwt', clientId: 'canary-client', keyFile: bad }, ca: fx.pki.caCertPem });
    const error = await rejectionOf(source.getToken('docs-api'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(bad);
    assertClean(everyView(error), CANARY);
    await source.close();
  });
});
