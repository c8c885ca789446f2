import { Writable } from 'node:stream';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { fetch, request, stream } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SecureHttpClient } from '../../src/drivers/http/index.js';
import { AUDIENCE, createHttpFixture, type HttpFixture } from './helpers.js';

let fx: HttpFixture;
let client: SecureHttpClient;

beforeAll(async () => {
  fx = await createHttpFixture();
  client = fx.client();
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.server.resetCounters();
  fx.issuer.resetCounters();
});

describe('HTTP driver end to end (real undici, mTLS, bearer tokens from MockTokenIssuer)', () => {
  it('client.request: PUT then GET a document, with a certificate-bound token the server verified against the JWKS', async () => {
    const put = await client.request({ method: 'PUT', path: '/v1/docs/a1', body: JSON.stringify({ sku: 'a1' }), headers: { 'content-type': 'application/json' }, route: '/v1/docs/:id' });
    expect(put.statusCode).toBe(201);
    await put.body.dump();
    const get = await client.request({ method: 'GET', path: '/v1/docs/a1' });
    expect(get.statusCode).toBe(200);
    expect(await get.body.json()).toEqual({ sku: 'a1' });
    expect(fx.server.authorizedCount).toBe(2);
    expect(fx.server.lastAuthorization).toMatch(/^Bearer /);
    // The token the server saw is the cached one, bound to the current client certificate.
    const token = await fx.tokens.getToken(AUDIENCE);
    expect(fx.server.lastAuthorization).toBe(`Bearer ${token.value}`);
    expect(token.certificateThumbprint).toBe(fx.certs.current().thumbprintSha256);
    expect(fx.server.connections.at(-1)?.serial).toBe(fx.certs.current().serialNumber.toUpperCase());
    expect(fx.issuer.requestCount('token')).toBeLessThanOrEqual(1);
  });

  it('undici.request(url, { dispatcher }) goes through the guard and carries the token', async () => {
    fx.server.docs.set('r1', '{"n":1}');
    const res = await request(`${fx.server.origin}/v1/docs/r1`, { dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ n: 1 });
    expect(fx.server.authorizedCount).toBe(1);
    const outcomes = fx.audit.ofKind('outcome').filter((r) => r.resource === `http:${fx.server.origin}/v1/docs/r1`);
    expect(outcomes.at(-1)).toMatchObject({ system: 'http', operation: 'GET', action: 'read', outcome: 'ok', attempts: 1 });
  });

  it('undici.fetch(url, { dispatcher }) works for GET and POST and is audited', async () => {
    fx.server.docs.set('f1', '{"n":2}');
    const res = await fetch(`${fx.server.origin}/v1/docs/f1`, { dispatcher: client.dispatcher });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 2 });
    const post = await fetch(`${fx.server.origin}/v1/docs/f2`, { method: 'POST', body: '{"n":3}', dispatcher: client.dispatcher });
    expect(post.status).toBe(201);
    await post.arrayBuffer();
    expect(fx.server.docs.get('f2')).toBe('{"n":3}');
    expect(fx.server.authorizedCount).toBe(2);
    expect(fx.audit.ofKind('outcome').some((r) => r.resource === `http:${fx.server.origin}/v1/docs/f2` && r.action === 'write' && r.outcome === 'ok')).toBe(true);
  });

  it("Node's global fetch (its bundled undici) accepts the dispatcher too, stale-token retry included", async () => {
    fx.server.docs.set('g1', '{"g":1}');
    fx.server.rejectNextTokens(1);
    // Node's RequestInit types `dispatcher` as its own bundled class; the object works across versions.
    const init = { dispatcher: client.dispatcher as unknown } as RequestInit;
    const res = await globalThis.fetch(`${fx.server.origin}/v1/docs/g1`, init);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ g: 1 });
    expect(fx.server.requestCount()).toBe(2);
    expect(fx.server.authorizedCount).toBe(1);
  });

  it('undici.stream(url, { dispatcher }) streams the body into a writable', async () => {
    fx.server.docs.set('s1', JSON.stringify({ big: 'x'.repeat(100_000) }));
    const chunks: Buffer[] = [];
    await stream(`${fx.server.origin}/v1/docs/s1`, { dispatcher: client.dispatcher, method: 'GET' }, ({ statusCode }) => {
      expect(statusCode).toBe(200);
      return new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
    });
    expect(JSON.parse(Buffer.concat(chunks).toString()).big).toHaveLength(100_000);
    expect(fx.server.authorizedCount).toBe(1);
  });

  it('a 404 and a 302 are answers handed back to the caller, not errors; the redirect is not followed', async () => {
    const missing = await client.request({ method: 'GET', path: '/v1/docs/nope' });
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
    const redirect = await client.request({ method: 'GET', path: `/v1/redirect?to=${encodeURIComponent('https://example.invalid/')}` });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('https://example.invalid/');
    await redirect.body.dump();
    expect(fx.server.requestCount()).toBe(2);
  });

  it('keeps connections alive across requests (no TLS session resumption needed)', async () => {
    const before = fx.server.connections.length;
    for (let i = 0; i < 20; i++) {
      const res = await client.request({ method: 'GET', path: '/v1/docs/a1' });
      await res.body.dump();
    }
    expect(fx.server.connections.length - before).toBeLessThanOrEqual(1);
  });

  it('one CLIENT span per request: "{method} {route}" with HTTP attributes, no token', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const traced = fx.client({}, fx.makeGuard({ tracerProvider }));
    fx.server.rejectNextTokens(1);
    const res = await traced.request({ method: 'GET', path: '/v1/docs/a1', route: '/v1/docs/:id' });
    await res.body.dump();
    const viaDispatcher = await request(`${fx.server.origin}/v1/docs/a1`, { dispatcher: traced.dispatcher });
    await viaDispatcher.body.dump();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['GET /v1/docs/:id', 'GET']);
    expect(spans[0]!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.template': '/v1/docs/:id',
      'server.address': '127.0.0.1',
      'server.port': fx.server.port,
      'secure_nosql.audience': AUDIENCE,
    });
    expect(spans[0]!.events.map((e) => e.name)).toContain('token.refresh');
    const token = (await fx.tokens.getToken(AUDIENCE)).value;
    expect(JSON.stringify(spans.map((s) => ({ a: s.attributes, e: s.events, st: s.status })))).not.toContain(token);
    await tracerProvider.shutdown();
  });
});
