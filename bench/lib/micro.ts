/**
 * In-process measurements for bench/run.ts: cached getToken, policy decision
 * at 1,000 rules, cold-cache stampede, heap over 1,000,000 guarded calls and
 * heap for 10,000 cached audiences.
 */
import { thousandRulePolicy } from './policy-fixture.js';
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignJWT, generateKeyPair } from 'jose';
import type { CertificateSource } from '../../src/certificates/types.js';
import type { AttemptContext, Classification, GuardPipeline, OperationDescriptor } from '../../src/resilience/index.js';
import { trace, type Attributes } from '@opentelemetry/api';
import { ATTR, Telemetry, redact } from '../../src/telemetry/index.js';
import { TokenCache, createAccessToken, createTokenSource, type AccessToken, type TokenCacheObserver, type TokenCacheResult, type TokenSource } from '../../src/tokens/index.js';
import type { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import { quantile } from './load.js';

/**
 * A full GC: `global.gc` under --expose-gc, else the same function obtained by
 * setting the flag at run time (as bench/tokens.ts does), so `npm run bench`
 * needs no extra flag.
 */
function getGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const gc = getGc();

/** Heap used after two full collections, bytes (NaN without --expose-gc). */
function settledHeap(): number {
  if (gc === undefined) return Number.NaN;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Median ns/op over many short samples: on a loaded machine a short sample is rarely preempted, so the median is the clean cost. */
function nsPerOp(op: () => unknown, samples = 1001, perSample = 2000): { median: number; p10: number; p90: number } {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) if (op() !== undefined) sink++; // warm-up (JIT)
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perSample; i++) if (op() !== undefined) sink++;
    out[s] = Number(process.hrtime.bigint() - t0) / perSample;
  }
  if (sink === -1) console.log('unreachable');
  out.sort();
  return { median: quantile(out, 0.5), p10: quantile(out, 0.1), p90: quantile(out, 0.9) };
}

export function cachedGetTokenNs(tokens: { getToken(audience: string): Promise<AccessToken> }, audience: string): { median: number; p10: number; p90: number; mapGetMedian: number } {
  const r = nsPerOp(() => tokens.getToken(audience));
  const map = new Map([[audience, tokens.getToken(audience)]]);
  const m = nsPerOp(() => map.get(audience));
  return { ...r, mapGetMedian: m.median };
}

/**
 * Where the cached-getToken time goes: the same cache without and with the
 * factory's telemetry observer (no-op OTel API), and `redact(audience)` alone.
 */
/**
 * The fix proposed for src/telemetry (not applied here: that room is owned
 * elsewhere): the same observer, with the redacted attribute set memoised per
 * (audience, result) instead of running the redaction regexes on every hit.
 */
function memoisedObserver(telemetry: Telemetry): TokenCacheObserver {
  const attrs = new Map<string, Attributes>();
  return {
    cacheResult: (aud: string, result: TokenCacheResult): void => {
      const key = `${result}\u0000${aud}`;
      let a = attrs.get(key);
      if (a === undefined) {
        a = { [ATTR.AUDIENCE]: redact(aud), [ATTR.TOKEN_RESULT]: result };
        if (attrs.size < 1024) attrs.set(key, a);
      }
      telemetry.tokenCacheResults.add(1, a);
      const span = trace.getActiveSpan();
      if (span !== undefined && span.isRecording()) span.setAttribute(ATTR.TOKEN_CACHE, result);
    },
  };
}

export async function getTokenBreakdown(audience: string): Promise<{ withoutObserverNs: number; withTelemetryObserverNs: number; withMemoisedObserverNs: number; redactAudienceNs: number }> {
  const source = new PresignedSource(new Map([[audience, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln']]));
  const bare = new TokenCache(source);
  const telemetry = new Telemetry();
  const observed = new TokenCache(source, { observer: telemetry.tokenObserver() });
  const memoised = new TokenCache(source, { observer: memoisedObserver(telemetry) });
  await bare.getToken(audience);
  await observed.getToken(audience);
  await memoised.getToken(audience);
  const withoutObserverNs = nsPerOp(() => bare.getToken(audience)).median;
  const withTelemetryObserverNs = nsPerOp(() => observed.getToken(audience)).median;
  const withMemoisedObserverNs = nsPerOp(() => memoised.getToken(audience)).median;
  const redactAudienceNs = nsPerOp(() => redact(audience)).median;
  await memoised.close();
  await bare.close();
  await observed.close();
  telemetry.close();
  return { withoutObserverNs, withTelemetryObserverNs, withMemoisedObserverNs, redactAudienceNs };
}

/** The same 1,000-rule policy as bench/policy.ts. */
export function policyDecisionNs(): { rules: number; median: number; p10: number; p90: number } {
  const { policy, requests } = thousandRulePolicy();
  let i = 0;
  const r = nsPerOp(() => policy.decide(requests[i++ & 3]!), 1001, 200);
  return { rules: policy.ruleCount, ...r };
}

/** 1,000 concurrent getToken on a brand-new cache (own source, same issuer): issuer token requests made. */
export async function coldStampede(issuer: MockTokenIssuer, certificates: CertificateSource, serviceId: string, audience: string, callers = 1000): Promise<{ callers: number; tokenRequests: number; distinctValues: number }> {
  const source = createTokenSource({ issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } }, certificates, { serviceId });
  const cache = new TokenCache(source, { certificates });
  try {
    const before = issuer.requestCount('token');
    const got = await Promise.all(Array.from({ length: callers }, () => cache.getToken(audience)));
    const tokenRequests = issuer.requestCount('token') - before;
    return { callers, tokenRequests, distinctValues: new Set(got.map((t) => t.value)).size };
  } finally {
    await cache.close();
  }
}

/**
 * Heap before/after N guarded in-process calls through the factory's guard
 * (policy + breaker + retry budget + credential hook; the attempt does no I/O).
 * Each batch yields to the event loop as any real call would: the breaker's
 * rolling-window timers must run (a pure microtask loop starves them and the
 * window's per-call latency list then grows without bound). The baseline is
 * taken after `warmupMs` of calls, so the breaker's 10 s rolling window is
 * already full and what follows measures growth, not the window filling.
 */
export async function heapOverGuardedCalls(
  guard: GuardPipeline,
  acquire: () => Promise<string>,
  total = 1_000_000,
  warmupMs = 11_000,
): Promise<{ calls: number; seconds: number; warmupMs: number; heapBeforeMb: number; heapAfterMb: number; samplesMb: number[] }> {
  const op: OperationDescriptor = {
    system: 'mongodb',
    operation: 'find',
    target: 'mongodb://bench-in-process:27017',
    accesses: [{ resource: 'mongodb:orders/items', action: 'read' }],
    idempotent: true,
    namespace: 'orders',
    collection: 'items',
    serverAddress: 'bench-in-process',
    serverPort: 27017,
  };
  const classify = (): Classification => ({ class: 'permanent', reason: 'bench' });
  const attempt = async (ctx: AttemptContext<string>): Promise<number> => ctx.credential.length;
  const credential = { acquire, invalidate: () => undefined };
  const batch = 1000;
  const runBatch = async (): Promise<void> => {
    await Promise.all(Array.from({ length: batch }, () => guard.run({ op, attempt, classify, credential })));
    await new Promise((resolve) => setImmediate(resolve));
  };
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) await runBatch();
  const before = settledHeap();
  const samples: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < total; done += batch) {
    await runBatch();
    if ((done + batch) % (total / 4) === 0) samples.push(settledHeap() / 2 ** 20);
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = settledHeap();
  return { calls: total, seconds, warmupMs, heapBeforeMb: before / 2 ** 20, heapAfterMb: after / 2 ** 20, samplesMb: samples };
}

class PresignedSource implements TokenSource {
  constructor(readonly values: ReadonlyMap<string, string>) {}
  getToken(audience: string): Promise<AccessToken> {
    const now = Date.now();
    return Promise.resolve(createAccessToken({ value: this.values.get(audience) ?? '', tokenType: 'Bearer', audience, scope: 'read write', issuedAt: now, expiresAt: now + 3_600_000 }));
  }
}

/** Heap added by 10,000 cached audiences holding real ES256 JWTs (as bench/tokens.ts). */
export async function heapForAudiences(n = 10_000): Promise<{ audiences: number; heapMb: number; tokenCharsMb: number }> {
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  const values = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const jwt = await new SignJWT({ scope: 'read write', roles: ['orders-rw'], cnf: { 'x5t#S256': 'k7Z5wFz5tR3pQ2sN8yXvB1cD4eF6gH9iJ0kL2mN4oP6' } })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench-key-1', typ: 'JWT' })
      .setIssuer('https://issuer.internal')
      .setSubject('spiffe://example.test/ns/orders/sa/orders-api')
      .setAudience(`audience-${i}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .setJti(randomUUID())
      .sign(privateKey);
    values.set(`audience-${i}`, jwt);
  }
  const cache = new TokenCache(new PresignedSource(values), { maxEntries: n });
  const before = settledHeap();
  for (const audience of values.keys()) await cache.getToken(audience);
  const after = settledHeap();
  await cache.close();
  const chars = [...values.values()].reduce((sum, v) => sum + v.length, 0);
  return { audiences: n, heapMb: (after - before) / 2 ** 20, tokenCharsMb: chars / 2 ** 20 };
}
