import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { createMongoClient, type SecureMongoClient, type SecureMongoEvent } from '../../src/drivers/mongodb/index.js';
import { AUDIENCE, createMongoHarness, fixtureUri, type MongoHarness } from './harness.js';

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('MongoDB adapter: certificate rotation', () => {
  let h: MongoHarness | undefined;
  let mongo: SecureMongoClient | undefined;

  afterEach(async () => {
    await mongo?.close();
    await h?.close();
    mongo = undefined;
    h = undefined;
  });

  for (const auth of ['oidc', 'x509'] as const) {
    test(`rotation under concurrent load (${auth}): 0 failed operations, new connections present the new certificate, the old client drains`, async () => {
      h = await createMongoHarness();
      const client = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), auth, ...(auth === 'oidc' ? { audience: AUDIENCE } : {}), drainTimeoutMs: 5_000 });
      mongo = client;
      const events: SecureMongoEvent[] = [];
      client.on((e) => events.push(e));
      const c = client.collection('orders', 'load');
      await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ i })));
      const oldSerial = h.pki.current.serialNumber;
      expect(h.server.presentedCertificates().every((p) => p.serialNumber === oldSerial)).toBe(true);

      // A cursor opened before the rotation keeps its client and finishes after it.
      const longCursor = c.find({}).sort({ i: 1 }).batchSize(3);
      const firstDoc = await longCursor.next();
      expect(firstDoc?.i).toBe(0);

      let stop = false;
      let ok = 0;
      const failures: unknown[] = [];
      const workers = Array.from({ length: 8 }, async (_, w) => {
        for (let n = 0; !stop; n++) {
          try {
            if (n % 3 === 0) await c.insertOne({ w, n });
            else await c.findOne({ i: n % 20 });
            ok++;
          } catch (error) {
            failures.push(error);
          }
        }
      });

      await waitFor(() => ok > 40, 'load to start');
      const rotated = await h.pki.rotate();
      await waitFor(() => client.certificateGeneration === 2, 'the client swap');
      const okAtSwap = ok;
      await waitFor(() => ok > okAtSwap + 80, 'load after the swap');
      stop = true;
      await Promise.all(workers);

      expect(failures).toEqual([]);
      expect(rotated.serialNumber).not.toBe(oldSerial);
      expect(events).toContainEqual({ type: 'client-swapped', generation: 2 });
      // New connections present the new certificate.
      expect(h.server.presentedCertificates().some((p) => p.serialNumber === rotated.serialNumber)).toBe(true);
      // The cursor from before the rotation completes on its (old) client.
      const rest = await longCursor.toArray();
      expect(rest.map((d) => d.i as number)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
      // With the cursor closed and no operation left, the old client closes: only new-certificate connections stay open.
      await waitFor(() => client.drainingClients === 0, 'the old client to drain');
      await waitFor(() => h!.server.openConnectionCertificates().every((p) => p.serialNumber === rotated.serialNumber), 'old connections to close');
      expect(h.server.openConnectionCertificates().length).toBeGreaterThan(0);
      expect(await c.countDocuments({ i: { $gte: 0 } })).toBe(20);
    });
  }

  test('a client left holding an abandoned cursor is closed at the drain deadline', async () => {
    h = await createMongoHarness();
    const client = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE, drainTimeoutMs: 300 });
    mongo = client;
    const c = client.collection('orders', 'abandoned');
    await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
    const abandoned = c.find({}).batchSize(2);
    await abandoned.next();
    await h.pki.rotate();
    await waitFor(() => client.certificateGeneration === 2, 'the client swap');
    expect(client.drainingClients).toBe(1);
    await waitFor(() => client.drainingClients === 0, 'the drain deadline');
    expect(await c.countDocuments({})).toBe(10);
  });
});
