import { Readable } from 'node:stream';
import { fetch, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SecureHttpClient } from '../../src/drivers/http/index.js';
import { AUDIENCE, createHttpFixture, rejectionOf, SERVICE_ID, type HttpFixture } from './helpers.js';

let fx: HttpFixture;
let client: SecureHttpClient;

beforeAll(async () => {
  fx = await createHttpFixture();
  client = fx.client();
  fx.server.docs.set('d1', '{"v":1}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(async () => {
  // Start every case with an empty token cache and zeroed counters, so attempt counts are exact.
  fx.tokens.invalidate(AUDIENCE, await fx.tokens.getToken(AUDIENCE));
  fx.server.resetCounters();
  fx.server.setPermissions(undefined);
  fx.issuer.resetCounters();
});

const tokenRequests = (): number => fx.issuer.requestCount('token');

describe('HTTP decision table (DESIGN.md §5) with exact attempt counts', () => {
  it('401 invalid_token → invalidate, one fresh token, one retry → success (2 requests, 2 issuer token requests)', async () => {
    fx.server.rejectNextTokens(1);
    const res = await client.request({ method: 'GET', path: '/v1/docs/d1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);
    expect(tokenRequests()).toBe(2);
    const [first, second] = fx.server.authorizationHeaders;
    expect(first).toMatch(/^Bearer /);
    expect(second).toMatch(/^Bearer /);
    expect(second).not.toBe(first);
  });

  it('two 401 invalid_token → AUTH_REJECTED after 2 requests (one refresh only)', async () => {
    fx.server.rejectNextTokens(2);
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/d1' }));
    expect(error.code).toBe('AUTH_REJECTED');
    expect(fx.server.requestCount()).toBe(2);
    expect(tokenRequests()).toBe(2);
    expect(error.details).toMatchObject({ reason: 'http_401_invalid_token', attempts: 2 });
  });

  it('401 without invalid_token → AUTH_REJECTED after 1 request, no refresh', async () => {
    fx.server.failNext(1, { status: 401, headers: { 'www-authenticate': 'Bearer realm="docs"' } });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/d1' }));
    expect(error.code).toBe('AUTH_REJECTED');
    expect(fx.server.requestCount()).toBe(1);
    expect(tokenRequests()).toBe(1);
  });

  it('403 → ACCESS_DENIED after 1 request, no token refresh', async () => {
    fx.server.setPermissions({ [SERVICE_ID]: ['read'] });
    const error = await rejectionOf(client.request({ method: 'PUT', path: '/v1/docs/d2', body: '{}' }));
    expect(error.code).toBe('ACCESS_DENIED');
    expect(fx.server.requestCount()).toBe(1);
    expect(fx.server.authorizedCount).toBe(1);
    expect(tokenRequests()).toBe(1);
    // reads are still allowed for this subject
    const ok = await client.request({ method: 'GET', path: '/v1/docs/d1' });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    expect(tokenRequests()).toBe(1);
  });

  it('503 with Retry-After → waits, retries, succeeds (2 requests)', async () => {
    fx.server.failNext(1, { status: 503, retryAfter: 1 });
    const started = Date.now();
    const res = await client.request({ method: 'GET', path: '/v1/docs/d1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);
    // Retry-After: 1 was honoured (a lower bound, not a speed assertion).
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(tokenRequests()).toBe(1);
  });

  it('429, 502 and 504 are transient too: retried until success', async () => {
    for (const status of [429, 502, 504]) {
      fx.server.resetCounters();
      fx.server.failNext(2, { status });
      const res = await client.request({ method: 'GET', path: '/v1/docs/d1' });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(fx.server.requestCount()).toBe(3);
    }
  });

  it('persistent 503 → UPSTREAM_UNAVAILABLE after the retry limit (4 attempts)', async () => {
    fx.server.failNext(10, { status: 503 });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/d1' }));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fx.server.requestCount()).toBe(4);
    fx.server.failNext(0, { status: 503 });
  });

  it('POST 503 → 1 request (not idempotent); with idempotent: true it is retried', async () => {
    fx.server.failNext(1, { status: 503 });
    const error = await rejectionOf(client.request({ method: 'POST', path: '/v1/docs/p1', body: '{"p":1}' }));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fx.server.requestCount()).toBe(1);
    expect(fx.server.docs.has('p1')).toBe(false);

    fx.server.resetCounters();
    fx.server.failNext(1, { status: 503 });
    const res = await client.request({ method: 'POST', path: '/v1/docs/p1', body: '{"p":1}', idempotent: true });
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);
  });

  it('a client created with retryNonIdempotent retries POST after 503', async () => {
    const optedIn = fx.client({ retryNonIdempotent: true });
    fx.server.failNext(1, { status: 503 });
    const res = await optedIn.request({ method: 'POST', path: '/v1/docs/p2', body: '{"p":2}' });
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);
  });

  it('400 → returned to the caller after 1 request (permanent, never retried)', async () => {
    fx.server.failNext(1, { status: 400 });
    const res = await client.request({ method: 'GET', path: '/v1/docs/d1' });
    expect(res.statusCode).toBe(400);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(1);
    // and a real validation failure from the API itself
    const bad = await client.request({ method: 'PUT', path: '/v1/docs/bad', body: 'not json' });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    expect(fx.server.requestCount()).toBe(2);
  });

  it('a streamed body is not replayable: 401 invalid_token → AUTH_REJECTED after 1 request', async () => {
    fx.server.rejectNextTokens(1);
    const error = await rejectionOf(client.request({ method: 'PUT', path: '/v1/docs/s1', body: Readable.from([Buffer.from('{"s":1}')]) }));
    expect(error.code).toBe('AUTH_REJECTED');
    expect(error.details).toMatchObject({ reason: 'http_401_invalid_token_body_not_replayable' });
    expect(fx.server.requestCount()).toBe(1);
    expect(tokenRequests()).toBe(1);
  });

  it('a dropped connection on GET is retried; on POST it is not (ambiguous)', async () => {
    fx.server.destroyNext(1);
    const res = await client.request({ method: 'GET', path: '/v1/docs/d1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);

    fx.server.resetCounters();
    fx.server.destroyNext(1);
    const error = await rejectionOf(client.request({ method: 'POST', path: '/v1/docs/p3', body: '{}' }));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fx.server.requestCount()).toBe(1);
  });

  it('the same table holds through undici.request and fetch with the dispatcher', async () => {
    fx.server.rejectNextTokens(1);
    const res = await request(`${fx.server.origin}/v1/docs/d1`, { dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(fx.server.requestCount()).toBe(2);

    fx.server.resetCounters();
    fx.server.setPermissions({ [SERVICE_ID]: ['read'] });
    const denied = await rejectionOf(fetch(`${fx.server.origin}/v1/docs/d1`, { method: 'DELETE', dispatcher: client.dispatcher }));
    expect((denied.cause as { code?: string }).code).toBe('ACCESS_DENIED');
    expect(fx.server.requestCount()).toBe(1);

    fx.server.resetCounters();
    fx.server.failNext(1, { status: 503 });
    const viaFetch = await fetch(`${fx.server.origin}/v1/docs/d1`, { dispatcher: client.dispatcher });
    expect(viaFetch.status).toBe(200);
    expect(await viaFetch.json()).toEqual({ v: 1 });
    expect(fx.server.requestCount()).toBe(2);
  });

  it('connection refused → retried, then UPSTREAM_UNAVAILABLE; nothing else breaks', async () => {
    const other = await fx.otherServer();
    const origin = other.origin;
    await other.close();
    const refused = fx.client({ origin });
    const error = await rejectionOf(refused.request({ method: 'GET', path: '/v1/docs/d1' }));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.details).toMatchObject({ reason: 'econnrefused', attempts: 4 });
  });

  it('every outcome is audited with its attempts and error code', () => {
    const outcomes = fx.audit.ofKind('outcome');
    expect(outcomes.some((r) => r.outcome === 'AUTH_REJECTED' && r.attempts === 2)).toBe(true);
    expect(outcomes.some((r) => r.outcome === 'ACCESS_DENIED' && r.attempts === 1)).toBe(true);
    expect(outcomes.every((r) => r.system === 'http' && r.service === SERVICE_ID)).toBe(true);
  });
});
