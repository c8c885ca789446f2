import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenCache, createAccessToken, type AccessToken, type GetTokenOptions, type TokenCacheResult, type TokenSource } from '../../src/tokens/index.js';
import { createFixture, rejectionOf, type Fixture } from './helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture((id) => [
    { id, audiences: ['docs-api', 'orders-db'], tokenTtlSeconds: 300 },
    { id: 'short-lived', audiences: ['*'], tokenTtlSeconds: 2, authMethod: 'tls_client_auth' },
  ]);
  // The short-lived client authenticates with the same certificate: register its SPIFFE ID under that name.
  fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api', 'orders-db', 'short-a', 'short-b'], tokenTtlSeconds: 300 });
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
});

function observe(): { results: TokenCacheResult[]; fetches: string[]; observer: { cacheResult(a: string, r: TokenCacheResult): void; fetched(a: string, d: number, o: string): void } } {
  const results: TokenCacheResult[] = [];
  const fetches: string[] = [];
  return { results, fetches, observer: { cacheResult: (_a, r) => results.push(r), fetched: (_a, _d, o) => fetches.push(o) } };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TokenCache over the issuer client', () => {
  it('1,000 concurrent calls on a cold cache → exactly 1 token request', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => cache.getToken('docs-api')));
    expect(new Set(tokens).size).toBe(1);
    expect(fx.issuer.requestCount('token')).toBe(1);
    expect(fx.issuer.requestCount('metadata')).toBe(1);
    // and a warm cache sends nothing more
    await Promise.all(Array.from({ length: 1000 }, () => cache.getToken('docs-api')));
    expect(fx.issuer.requestCount('token')).toBe(1);
    await cache.close();
  });

  it('refreshes ahead of expiry in the background; no caller waits for it', async () => {
    fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api'], tokenTtlSeconds: 2 });
    const { results, fetches, observer } = observe();
    const cache = new TokenCache(fx.source(), { certificates: fx.certs, refreshAt: 0.5, refreshJitter: 0, observer });
    const first = await cache.getToken('docs-api');
    expect(results).toEqual(['miss']);
    const seen = new Set<AccessToken>([first]);
    for (let i = 0; i < 30; i++) {
      await sleep(50);
      seen.add(await cache.getToken('docs-api'));
    }
    // ~1.5 s in: the token was refreshed at ~1 s while every call was served from the cache
    expect(seen.size).toBe(2);
    expect(fetches).toEqual(['ok', 'ok']);
    expect(results.slice(1).every((r) => r === 'hit')).toBe(true);
    expect(fx.issuer.requestCount('token')).toBe(2);
    await cache.close();
    fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api', 'orders-db'], tokenTtlSeconds: 300 });
  });

  it('an issuer outage with a warm cache → 0 failures until the token expires, then TOKEN_UNAVAILABLE', async () => {
    fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api'], tokenTtlSeconds: 2 });
    const { results, observer } = observe();
    const source = fx.source({ attemptTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    const cache = new TokenCache(source, { certificates: fx.certs, refreshAt: 0.3, refreshJitter: 0, observer });
    const token = await cache.getToken('docs-api');
    fx.issuer.hang('token');
    fx.issuer.failNext(0, {});
    let served = 0;
    let failure: (Error & { code?: string }) | undefined;
    const deadline = token.expiresAt + 200;
    while (Date.now() < deadline) {
      try {
        const t = await cache.getToken('docs-api');
        expect(t).toBe(token);
        expect(t.expiresAt).toBeGreaterThan(Date.now());
        served++;
      } catch (error) {
        failure = error as Error & { code?: string };
        break;
      }
      await sleep(25);
    }
    expect(served).toBeGreaterThan(20);
    expect(results).toContain('stale_served');
    // the only failure comes once the token is inside its safety margin (no usable token left)
    expect(failure?.code).toBe('TOKEN_UNAVAILABLE');
    expect(Date.now()).toBeGreaterThanOrEqual(token.expiresAt - 200 - 5);
    expect(failure?.cause).toBeDefined();
    await cache.close();
    fx.issuer.resume();
    fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api', 'orders-db'], tokenTtlSeconds: 300 });
  });

  it('invalidate is compare-and-swap', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    const t1 = await cache.getToken('docs-api');
    expect(cache.invalidate('docs-api', 'not-the-cached-value')).toBe(false);
    expect(cache.invalidate('orders-db', t1)).toBe(false);
    expect(await cache.getToken('docs-api')).toBe(t1);
    expect(cache.invalidate('docs-api', t1)).toBe(true);
    const t2 = await cache.getToken('docs-api');
    expect(t2).not.toBe(t1);
    expect(fx.issuer.requestCount('token')).toBe(2);
    // a late invalidation of the old token leaves the fresher one alone
    expect(cache.invalidate('docs-api', t1)).toBe(false);
    expect(cache.invalidate('docs-api', t1.value)).toBe(false);
    expect(await cache.getToken('docs-api')).toBe(t2);
    expect(cache.invalidate('docs-api', t2.value)).toBe(true);
    await cache.close();
  });

  it("a caller's AbortSignal aborts its own wait, not the shared fetch", async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    fx.issuer.delay(300, 'token');
    const aborted = cache.getToken('docs-api', { signal: AbortSignal.timeout(50) });
    const patient = cache.getToken('docs-api');
    const error = await rejectionOf(aborted);
    expect(error.code).toBe('ABORTED');
    const token = await patient;
    expect(token.audience).toBe('docs-api');
    expect(fx.issuer.requestCount('token')).toBe(1);
    // an already-aborted signal is refused even on a hit
    const controller = new AbortController();
    controller.abort();
    expect((await rejectionOf(cache.getToken('docs-api', { signal: controller.signal }))).code).toBe('ABORTED');
    await cache.close();
  });

  it('forceRefresh fetches a fresh token once for concurrent callers', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    const t1 = await cache.getToken('docs-api');
    const fresh = await Promise.all(Array.from({ length: 20 }, () => cache.getToken('docs-api', { forceRefresh: true })));
    expect(new Set(fresh).size).toBe(1);
    expect(fresh[0]).not.toBe(t1);
    expect(fx.issuer.requestCount('token')).toBe(2);
    expect(await cache.getToken('docs-api')).toBe(fresh[0]);
    await cache.close();
  });

  it('surfaces definitive errors from the source with their code', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    fx.issuer.failNext(1, { status: 400, error: 'invalid_client' });
    const all = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getToken('docs-api')));
    expect(all.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'AUTH_REJECTED')).toBe(true);
    expect(fx.issuer.requestCount('token')).toBe(1);
    await cache.close();
  });
});

/** A counting in-memory source, for cache-only properties (bounds, timers, margins). */
class CountingSource implements TokenSource {
  calls = 0;
  constructor(readonly lifetimeMs = 300_000) {}
  getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken> {
    this.calls++;
    const now = Date.now();
    return Promise.resolve(
      createAccessToken({ value: `v-${audience}-${this.calls}`, tokenType: 'Bearer', audience, scope: options?.scopes?.join(' '), issuedAt: now, expiresAt: now + this.lifetimeMs }),
    );
  }
}

describe('TokenCache bounds and lifecycle', () => {
  it('is bounded: least recently used entries are evicted', async () => {
    const source = new CountingSource();
    const cache = new TokenCache(source, { maxEntries: 3 });
    await cache.getToken('a');
    await cache.getToken('b');
    await cache.getToken('c');
    await cache.getToken('a'); // a is used again
    await cache.getToken('d'); // evicts b (unused since the last pass)
    expect(cache.size).toBe(3);
    const calls = source.calls;
    await cache.getToken('a');
    expect(source.calls).toBe(calls);
    await cache.getToken('b');
    expect(source.calls).toBe(calls + 1);
    await cache.close();
  });

  it('keys entries by scope set (order-insensitive)', async () => {
    const source = new CountingSource();
    const cache = new TokenCache(source);
    const t1 = await cache.getToken('a', { scopes: ['read', 'write'] });
    const t2 = await cache.getToken('a', { scopes: ['write', 'read'] });
    const t3 = await cache.getToken('a');
    expect(t2).toBe(t1);
    expect(t3).not.toBe(t1);
    expect(source.calls).toBe(2);
    expect(cache.invalidate('a', t1)).toBe(true);
    await cache.close();
  });

  it('never hands out a token inside its safety margin', async () => {
    const source = new CountingSource(1_000);
    const cache = new TokenCache(source, { safetyMarginMs: 30_000, safetyMarginFraction: 0.5, refreshAt: 0.9, refreshJitter: 0 });
    const t1 = await cache.getToken('a');
    await sleep(520);
    const t2 = await cache.getToken('a');
    expect(t2).not.toBe(t1);
    expect(t2.expiresAt - Date.now()).toBeGreaterThan(500);
    await cache.close();
  });

  it('close() clears every timer and refuses further calls', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const source = new CountingSource();
      const cache = new TokenCache(source);
      await Promise.all(['a', 'b', 'c', 'd'].map((a) => cache.getToken(a)));
      // a refresh timer and an expiry timer per entry
      expect(vi.getTimerCount()).toBe(8);
      await cache.close();
      expect(vi.getTimerCount()).toBe(0);
      expect(cache.size).toBe(0);
      expect((await rejectionOf(cache.getToken('a'))).code).toBe('CLOSED');
    } finally {
      vi.useRealTimers();
    }
  });

  it('close() aborts a shared fetch in progress', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    fx.issuer.hang('token');
    const pending = rejectionOf(cache.getToken('docs-api'));
    await sleep(100);
    await cache.close();
    expect((await pending).code).toBe('CLOSED');
  });

  it('a throwing observer never breaks the cache', async () => {
    const cache = new TokenCache(new CountingSource(), {
      observer: {
        cacheResult: () => {
          throw new Error('hook');
        },
        fetched: () => {
          throw new Error('hook');
        },
      },
    });
    await expect(cache.getToken('a')).resolves.toBeDefined();
    await expect(cache.getToken('a')).resolves.toBeDefined();
    await cache.close();
  });
});
