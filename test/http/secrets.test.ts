import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../src/drivers/http/index.js';
import { createAccessToken, type AccessToken, type TokenProvider } from '../../src/tokens/index.js';
import { AUDIENCE, createHttpFixture, rejectionOf, SERVICE_ID, type HttpFixture } from './helpers.js';

/** A token provider that hands out one recognisable canary token (the server rejects it: bad signature). */
class CanaryTokens implements TokenProvider {
  readonly canary = `canary.${randomBytes(24).toString('base64url')}.token`;
  fetched = 0;
  invalidated = 0;
  getToken(audience: string): Promise<AccessToken> {
    this.fetched++;
    const now = Date.now();
    return Promise.resolve(createAccessToken({ value: this.canary, tokenType: 'Bearer', audience, issuedAt: now, expiresAt: now + 300_000 }));
  }
  invalidate(): boolean {
    this.invalidated++;
    return true;
  }
}

function everythingSaid(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    parts.push(inspect(current, { depth: 5 }), JSON.stringify(current) ?? '');
    if (current instanceof Error) parts.push(current.toString());
    if (typeof current === 'object') parts.push((current as { message?: string }).message ?? '', (current as { stack?: string }).stack ?? '');
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

let fx: HttpFixture;
const canaryTokens = new CanaryTokens();

beforeAll(async () => {
  fx = await createHttpFixture();
  fx.server.docs.set('1', '{"one":1}');
});
afterAll(async () => {
  await fx.cleanup();
});

describe('the bearer token never appears in errors, inspect output or audit records', () => {
  it('a rejected canary token: AUTH_REJECTED after one refresh, and the canary is nowhere but on the wire', async () => {
    const client = createHttpClient({ ...fx.ctx(), tokens: canaryTokens }, { origin: fx.server.origin, audience: AUDIENCE });
    try {
      const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
      expect(error.code).toBe('AUTH_REJECTED');
      expect(canaryTokens.fetched).toBe(2);
      expect(canaryTokens.invalidated).toBe(1);
      // It was really sent (so the checks below can fail) ...
      expect(fx.server.lastAuthorization).toBe(`Bearer ${canaryTokens.canary}`);
      // ... but is in no error view, in no audit record, not in the client's inspect output.
      expect(everythingSaid(error)).not.toContain(canaryTokens.canary);
      const viaFetch = await rejectionOf(fetch(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher }));
      expect(everythingSaid(viaFetch)).not.toContain(canaryTokens.canary);
      const viaRequest = await rejectionOf(request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher }));
      expect(everythingSaid(viaRequest)).not.toContain(canaryTokens.canary);
      expect(JSON.stringify(fx.audit.records)).not.toContain(canaryTokens.canary);
      expect(inspect(client, { depth: 10 })).not.toContain(canaryTokens.canary);
      expect(inspect(client.dispatcher, { depth: 10 })).not.toContain(canaryTokens.canary);
    } finally {
      await client.close();
    }
  });

  it('the real token of a successful flow is not in audit records or in errors of later failures', async () => {
    const client = fx.client();
    const res = await client.request({ method: 'GET', path: '/v1/docs/1' });
    await res.body.dump();
    const token = (await fx.tokens.getToken(AUDIENCE)).value;
    expect(fx.server.lastAuthorization).toBe(`Bearer ${token}`);
    fx.server.setPermissions({ [SERVICE_ID]: [] });
    const denied = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(denied.code).toBe('ACCESS_DENIED');
    fx.server.setPermissions(undefined);
    fx.server.failNext(10, { status: 503 });
    const unavailable = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    fx.server.failNext(0, { status: 503 });
    expect(unavailable.code).toBe('UPSTREAM_UNAVAILABLE');
    for (const error of [denied, unavailable]) {
      expect(everythingSaid(error)).not.toContain(token);
      expect(error.toString()).not.toMatch(/Bearer/);
    }
    expect(JSON.stringify(fx.audit.records)).not.toContain(token);
  });
});
