/**
 * Token cache benchmark: `npx tsx bench/tokens.ts`.
 * Prints the median ns/op of a cached `getToken` (next to a bare Map.get) and
 * the heap used by 10,000 cached audiences holding real ES256 JWTs.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignJWT, generateKeyPair } from 'jose';
import { TokenCache, createAccessToken, type AccessToken, type TokenSource } from '../src/tokens/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROUNDS = 41;
const OPS = 200_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function measure(op: () => unknown): number {
  const samples: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) if (op() !== undefined) sink++;
    samples.push(Number(process.hrtime.bigint() - start) / OPS);
  }
  if (sink === -1) console.log('unreachable');
  return median(samples);
}

const { privateKey } = await generateKeyPair('ES256');
async function jwt(audience: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'read write', roles: ['orders-rw'], client_id: 'spiffe://example.test/ns/orders/sa/orders-api', cnf: { 'x5t#S256': 'k7Z5wFz5tR3pQ2sN8yXvB1cD4eF6gH9iJ0kL2mN4oP6' } })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench-key-1', typ: 'JWT' })
    .setIssuer('https://issuer.internal')
    .setSubject('spiffe://example.test/ns/orders/sa/orders-api')
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti(randomUUID())
    .sign(privateKey);
}

class PresignedSource implements TokenSource {
  constructor(readonly values: ReadonlyMap<string, string>) {}
  getToken(audience: string): Promise<AccessToken> {
    const now = Date.now();
    return Promise.resolve(createAccessToken({ value: this.values.get(audience) ?? '', tokenType: 'Bearer', audience, scope: 'read write', issuedAt: now, expiresAt: now + 3_600_000 }));
  }
}

// ---- hot path -----------------------------------------------------------
const single = new Map([['docs-api', await jwt('docs-api')]]);
const cache = new TokenCache(new PresignedSource(single));
await cache.getToken('docs-api');
const map = new Map<string, Promise<AccessToken>>([['docs-api', cache.getToken('docs-api')]]);
for (let i = 0; i < 3; i++) {
  measure(() => cache.getToken('docs-api'));
  measure(() => map.get('docs-api'));
}
const cachedNs = measure(() => cache.getToken('docs-api'));
const mapNs = measure(() => map.get('docs-api'));
const signal = new AbortController().signal;
const options = { signal };
const withSignalNs = measure(() => cache.getToken('docs-api', options));
await cache.close();

// ---- memory for 10,000 audiences -----------------------------------------
const N = 10_000;
const values = new Map<string, string>();
for (let i = 0; i < N; i++) values.set(`audience-${i}`, await jwt(`audience-${i}`));
const big = new TokenCache(new PresignedSource(values), { maxEntries: N });
gc();
gc();
const before = process.memoryUsage().heapUsed;
for (const audience of values.keys()) await big.getToken(audience);
gc();
gc();
const after = process.memoryUsage().heapUsed;
const tokenBytes = [...values.values()].reduce((n, v) => n + v.length, 0);
await big.close();

console.log(`cached getToken (median of ${ROUNDS} x ${OPS}):          ${cachedNs.toFixed(3)} ns/op (${(cachedNs / 1000).toFixed(3)} µs)`);
console.log(`cached getToken with { signal } options:              ${withSignalNs.toFixed(3)} ns/op`);
console.log(`bare Map.get reference:                               ${mapNs.toFixed(3)} ns/op`);
console.log(`10,000 cached audiences: heap +${((after - before) / 1024 / 1024).toFixed(2)} MB (token strings themselves ${(tokenBytes / 1024 / 1024).toFixed(2)} MB, avg ${Math.round(tokenBytes / N)} chars)`);
console.log(`budget: cached getToken ≤ 150 ns → ${cachedNs <= 150 ? 'OK' : 'OVER'}; 10,000 audiences ≤ 20 MB → ${after - before <= 20 * 1024 * 1024 ? 'OK' : 'OVER'}`);
