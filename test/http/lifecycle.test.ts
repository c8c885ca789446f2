import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpFixture, rejectionOf, type HttpFixture } from './helpers.js';

let fx: HttpFixture;

beforeAll(async () => {
  fx = await createHttpFixture();
  fx.server.docs.set('1', '{"one":1}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.server.setDelay(0);
  fx.server.failNext(0, { status: 503 });
  fx.server.resetCounters();
});

async function waitForRequests(n: number): Promise<void> {
  for (let i = 0; i < 1000 && fx.server.requestCount() < n; i++) await sleep(5);
  expect(fx.server.requestCount()).toBe(n);
}

describe('abort and close', () => {
  it('aborting while the server is slow rejects with ABORTED and is not retried', async () => {
    const client = fx.client();
    fx.server.setDelay(500);
    const controller = new AbortController();
    const pending = client.request({ method: 'GET', path: '/v1/docs/1', signal: controller.signal });
    await waitForRequests(1);
    controller.abort(new Error('caller gave up'));
    const error = await rejectionOf(pending);
    expect(error.code).toBe('ABORTED');
    await sleep(50);
    expect(fx.server.requestCount()).toBe(1);
  });

  it('aborting during a Retry-After wait stops the retry', async () => {
    const client = fx.client();
    fx.server.failNext(1, { status: 503, retryAfter: 2 });
    const controller = new AbortController();
    const pending = request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher, signal: controller.signal });
    await waitForRequests(1);
    await sleep(100);
    controller.abort();
    const error = await rejectionOf(pending);
    expect(error.code).toBe('ABORTED');
    expect(fx.server.requestCount()).toBe(1);
  });

  it('close() lets in-flight requests finish, then refuses new ones with CLOSED (not retried)', async () => {
    const client = fx.client();
    fx.server.setDelay(200);
    const inflight = client.request({ method: 'GET', path: '/v1/docs/1' });
    await waitForRequests(1);
    const closed = client.close();
    const res = await inflight;
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    await closed;
    expect((await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }))).code).toBe('CLOSED');
    expect((await rejectionOf(request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher }))).code).toBe('CLOSED');
    expect(fx.server.requestCount()).toBe(1);
  });

  it('close() closes the sockets of the client', async () => {
    const own = await fx.otherServer();
    own.docs.set('1', '{}');
    const client = fx.client({ origin: own.origin, connections: 2 });
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await client.request({ method: 'GET', path: '/v1/docs/1' });
        await res.body.dump();
      }),
    );
    expect(own.openSockets).toBeGreaterThan(0);
    expect(own.openSockets).toBeLessThanOrEqual(2);
    await client.close();
    for (let i = 0; i < 100 && own.openSockets > 0; i++) await sleep(10);
    expect(own.openSockets).toBe(0);
  });

  it('invalid numeric options are CONFIG_INVALID', () => {
    expect(() => fx.client({ connections: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => fx.client({ headersTimeout: -1 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => fx.client({ scopes: ['has space'] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
