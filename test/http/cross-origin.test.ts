import { fetch, interceptors, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SecureHttpClient } from '../../src/drivers/http/index.js';
import type { DocApiServer } from '../fixtures/doc-api-server.js';
import { createHttpFixture, rejectionOf, type HttpFixture } from './helpers.js';

let fx: HttpFixture;
let client: SecureHttpClient;
let other: DocApiServer;

beforeAll(async () => {
  fx = await createHttpFixture();
  client = fx.client();
  // A second HTTPS origin with the same CA: it would accept our client certificate, and it records every Authorization header.
  other = await fx.otherServer();
  fx.server.docs.set('1', '{"one":1}');
  other.docs.set('1', '{"other":1}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.server.resetCounters();
  other.resetCounters();
});

const redirectTo = (url: string): string => `/v1/redirect?to=${encodeURIComponent(url)}`;

describe('the token never reaches another origin', () => {
  it('client.request does not follow a cross-origin redirect: the 302 is returned, the other origin sees nothing', async () => {
    const res = await client.request({ method: 'GET', path: redirectTo(`${other.origin}/v1/docs/1`) });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(`${other.origin}/v1/docs/1`);
    await res.body.dump();
    expect(fx.server.authorizationHeaders[0]).toMatch(/^Bearer /);
    expect(other.requestCount()).toBe(0);
    expect(other.authorizationHeaders).toEqual([]);
  });

  it('fetch with redirect: "follow" — the cross-origin hop is refused by the dispatcher, so no token and no request leave for it', async () => {
    const error = await rejectionOf(fetch(`${fx.server.origin}${redirectTo(`${other.origin}/v1/docs/1`)}`, { dispatcher: client.dispatcher }));
    expect((error.cause as { code?: string }).code).toBe('CONFIG_INVALID');
    expect(fx.server.requestCount()).toBe(1);
    expect(other.requestCount()).toBe(0);
    expect(other.authorizationHeaders).toEqual([]);
  });

  it('fetch with redirect: "manual" returns the 302 untouched', async () => {
    const res = await fetch(`${fx.server.origin}${redirectTo(`${other.origin}/v1/docs/1`)}`, { dispatcher: client.dispatcher, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(other.requestCount()).toBe(0);
  });

  it('a redirect interceptor composed on top follows same-origin redirects (with the token) but never cross-origin ones', async () => {
    const following = client.dispatcher.compose(interceptors.redirect({ maxRedirections: 2 }));
    const same = await request(`${fx.server.origin}${redirectTo(`${fx.server.origin}/v1/docs/1`)}`, { dispatcher: following });
    expect(same.statusCode).toBe(200);
    expect(await same.body.json()).toEqual({ one: 1 });
    expect(fx.server.authorizationHeaders).toHaveLength(2);
    expect(fx.server.authorizationHeaders.every((h) => h?.startsWith('Bearer ') === true)).toBe(true);

    const cross = await rejectionOf(request(`${fx.server.origin}${redirectTo(`${other.origin}/v1/docs/1`)}`, { dispatcher: following }));
    expect(cross.code).toBe('CONFIG_INVALID');
    expect(other.requestCount()).toBe(0);
    expect(other.authorizationHeaders).toEqual([]);
  });

  it('a direct request to another origin through the dispatcher is refused without connecting', async () => {
    const connectionsBefore = other.connections.length;
    const viaRequest = await rejectionOf(request(`${other.origin}/v1/docs/1`, { dispatcher: client.dispatcher }));
    expect(viaRequest.code).toBe('CONFIG_INVALID');
    const viaFetch = await rejectionOf(fetch(`${other.origin}/v1/docs/1`, { dispatcher: client.dispatcher }));
    expect((viaFetch.cause as { code?: string }).code).toBe('CONFIG_INVALID');
    const viaDispatch = await rejectionOf(client.dispatcher.request({ origin: other.origin, path: '/v1/docs/1', method: 'GET', headers: { authorization: 'Bearer stolen?' } }));
    expect(viaDispatch.code).toBe('CONFIG_INVALID');
    expect(other.requestCount()).toBe(0);
    expect(other.connections.length).toBe(connectionsBefore);
  });

  it('the same server under another name (localhost vs 127.0.0.1) is another origin', async () => {
    const error = await rejectionOf(request(`${fx.server.localhostOrigin}/v1/docs/1`, { dispatcher: client.dispatcher }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(fx.server.requestCount()).toBe(0);
  });

  it("a caller's own Authorization header is replaced by the client's token, never forwarded", async () => {
    const res = await client.request({ method: 'GET', path: '/v1/docs/1', headers: { Authorization: 'Bearer caller-supplied' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(fx.server.lastAuthorization).toMatch(/^Bearer /);
    expect(fx.server.lastAuthorization).not.toBe('Bearer caller-supplied');
    const raw = await request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher, headers: [['authorization', 'Bearer other']] as unknown as string[] });
    await raw.body.dump();
    expect(fx.server.lastAuthorization).not.toBe('Bearer other');
  });

  it('a Host header naming another host is refused before sending; the origin\'s own host is fine', async () => {
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1', headers: { host: 'admin.internal' } }));
    expect(error).toMatchObject({ code: 'POLICY_DENIED', details: { reason: 'host_header_mismatch' } });
    expect(fx.server.requestCount()).toBe(0);
    const res = await client.request({ method: 'GET', path: '/v1/docs/1', headers: { Host: `127.0.0.1:${fx.server.port}` } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
