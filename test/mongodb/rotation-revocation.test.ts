import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { createMongoClient, type SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import { AUDIENCE, createMongoHarness, fixtureUri, type MongoHarness } from './harness.js';

function jtiOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti: string };
  return payload.jti;
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function describeFailure(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; cause?: { name?: unknown; code?: unknown } };
  return `${String(e.code)}: ${String(e.message)} (cause ${String(e.cause?.name)} ${String(e.cause?.code)})`;
}

/**
 * Regression (soak): the orders-db token revoked at the issuer right after a
 * certificate rotation. The rotated client's pre-connect authenticates with
 * the cached token; when that is rejected the driver closes the new client's
 * topology, and every operation failed with MongoTopologyClosedError
 * (transient, breaker open) until the next rotation, while the 18 never
 * reached the OIDC bridge.
 */
describe('MongoDB adapter: token revoked right after a certificate rotation', () => {
  let h: MongoHarness | undefined;
  let mongo: SecureMongoClient | undefined;

  afterEach(async () => {
    await mongo?.close();
    await h?.close();
    mongo = undefined;
    h = undefined;
  });

  // 0 ms: revoked while the rotated client pre-connects; later: after it connected, while its pool grows.
  for (const [delayMs, atServer] of [[0, false], [150, false], [400, false], [150, true]] as const) {
    test(`revocation ${delayMs} ms (${atServer ? 'issuer + live connections' : 'issuer only'}) after the rotation: 0 failed finds, breaker stays closed, one fresh token`, async () => {
      h = await createMongoHarness();
      const harness = h;
      const client = await createMongoClient(harness.ctx, { uri: fixtureUri(harness.server), audience: AUDIENCE, drainTimeoutMs: 5_000 });
      mongo = client;
      const c = client.collection('orders', 'revoked');
      await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
      const breakerStates: string[] = [];
      const sub = harness.guard.onBreakerStateChange((change) => breakerStates.push(change.state));

      let stop = false;
      let ok = 0;
      const failures: unknown[] = [];
      const workers = Array.from({ length: 6 }, async (_, w) => {
        for (let n = 0; !stop; n++) {
          try {
            await c.findOne({ i: (n + w) % 10 });
            ok++;
          } catch (error) {
            failures.push(error);
            await sleep(2); // a fast-failing breaker must not starve the timers
          }
        }
      });
      await waitFor(() => ok > 30, 'load to start');

      const generation = harness.certificates.current().generation;
      const before = jtiOf((await harness.tokens.getToken(AUDIENCE)).value);
      await harness.pki.rotate();
      await waitFor(() => harness.certificates.current().generation > generation, 'the certificate rotation');
      if (delayMs > 0) await sleep(delayMs);
      // The rotation purged the certificate-bound token: revoke the one issued for the new certificate,
      // which the rotated client's new connections authenticate with.
      const revoked = jtiOf((await harness.tokens.getToken(AUDIENCE)).value);
      expect(revoked).not.toBe(before);
      const tokenRequests = harness.issuer.requestCount('token');
      const failuresBefore = harness.server.authFailureCount;
      harness.issuer.revoke(revoked);
      if (atServer) harness.server.revokeToken(revoked);

      try {
        await waitFor(() => client.certificateGeneration > generation, 'the client swap');
        const okAfterSwap = ok;
        await waitFor(() => ok > okAfterSwap + 60, 'load on the new client', 5_000);
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      sub.dispose();

      expect(failures.map(describeFailure)).toEqual([]);
      expect(breakerStates).not.toContain('open');
      // Once a handshake was rejected, the revoked token was replaced (not handed out again), without an issuer stampede.
      const fetched = harness.issuer.requestCount('token') - tokenRequests;
      if (harness.server.authFailureCount > failuresBefore || atServer) {
        expect(jtiOf((await harness.tokens.getToken(AUDIENCE)).value)).not.toBe(revoked);
        expect(fetched).toBeGreaterThanOrEqual(1);
      }
      expect(fetched).toBeLessThanOrEqual(2);
      expect(await c.countDocuments({})).toBe(10);
    });
  }
});
