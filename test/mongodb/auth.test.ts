import { inspect } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { isSecureNosqlError } from '../../src/errors/index.js';
import { createMongoClient, type SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import { AUDIENCE, createMongoHarness, fixtureUri, SERVICE_ID, type HarnessOptions, type MongoHarness } from './harness.js';

function jtiOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti: string };
  return payload.jti;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    expect(isSecureNosqlError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    return error;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

describe('MongoDB adapter: authentication and authorization failures (DESIGN.md §5)', () => {
  let h: MongoHarness | undefined;
  let mongo: SecureMongoClient | undefined;

  async function setup(options: HarnessOptions = {}): Promise<{ h: MongoHarness; mongo: SecureMongoClient }> {
    h = await createMongoHarness(options);
    mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
    return { h, mongo };
  }

  afterEach(async () => {
    await mongo?.close();
    await h?.close();
    mongo = undefined;
    h = undefined;
  });

  test('10 concurrent tasks × 100 finds share one token fetch', async () => {
    const { h, mongo } = await setup();
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'a1', qty: 1 });
    const results = await Promise.all(
      Array.from({ length: 10 }, async () => {
        let found = 0;
        for (let i = 0; i < 100; i++) if ((await c.findOne({ sku: 'a1' })) !== null) found++;
        return found;
      }),
    );
    expect(results).toEqual(Array.from({ length: 10 }, () => 100));
    expect(h.issuer.requestCount('token')).toBe(1);
    // Several pooled connections authenticated, all with the one token.
    expect(h.server.openConnectionCount).toBeGreaterThan(1);
  });

  test('a forced 391 is handled by one driver re-authentication and the operation succeeds', async () => {
    const { h, mongo } = await setup();
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'a1' });
    const saslBefore = h.server.saslStartCount;
    const findsBefore = h.server.commandCount('find');
    const outcomesBefore = h.audit.ofKind('outcome').length;
    h.server.forceError('find', { code: 391 });
    expect(await c.findOne({ sku: 'a1' }, { projection: { _id: 0 } })).toEqual({ sku: 'a1' });
    expect(h.server.saslStartCount - saslBefore).toBe(1);
    expect(h.server.commandCount('find') - findsBefore).toBe(2);
    expect(h.issuer.requestCount('token')).toBe(1);
    const outcome = h.audit.ofKind('outcome').slice(outcomesBefore);
    expect(outcome).toHaveLength(1);
    expect(outcome[0]).toMatchObject({ outcome: 'ok', attempts: 1 });
  });

  test('a revoked token is rejected (18), one fresh token is fetched, and the operation succeeds', async () => {
    const { h, mongo } = await setup();
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'r1' });
    const first = await h.tokens.getToken(AUDIENCE);
    const jti = jtiOf(first.value);
    expect(h.issuer.requestCount('token')).toBe(1);
    h.issuer.revoke(jti);
    h.server.revokeToken(jti); // live connections that used it must re-authenticate
    expect(await c.findOne({ sku: 'r1' }, { projection: { _id: 0 } })).toEqual({ sku: 'r1' });
    expect(h.issuer.requestCount('token')).toBe(2);
    expect(h.server.authFailureCount).toBeGreaterThanOrEqual(1);
    const second = await h.tokens.getToken(AUDIENCE);
    expect(second.value).not.toBe(first.value);
    // And it stays healthy on the new token.
    expect(await c.countDocuments({})).toBe(1);
    expect(h.issuer.requestCount('token')).toBe(2);
  });

  test('a new client whose cached token was revoked gets one fresh token when it connects (18 on saslStart)', async () => {
    const { h, mongo: first } = await setup();
    await first.collection('orders', 'items').insertOne({ sku: 'n1' });
    const jti = jtiOf((await h.tokens.getToken(AUDIENCE)).value);
    h.issuer.revoke(jti);
    const failuresBefore = h.server.authFailureCount;
    // A second client starts with no driver-side token: its first callback gets the (revoked) cached one.
    const second = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
    try {
      expect(h.server.authFailureCount).toBeGreaterThan(failuresBefore);
      expect(await second.collection('orders', 'items').countDocuments({})).toBe(1);
      expect(h.issuer.requestCount('token')).toBe(2);
    } finally {
      await second.close();
    }
  });

  test('when the fresh token is rejected too, the operation fails with AUTH_REJECTED after exactly one refresh', async () => {
    let reject = false;
    const { h, mongo } = await setup({ rejectTokens: () => reject });
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'x' });
    const jti = jtiOf((await h.tokens.getToken(AUDIENCE)).value);
    reject = true;
    h.server.revokeToken(jti);
    const outcomesBefore = h.audit.ofKind('outcome').length;
    const error = await expectCode(c.findOne({ sku: 'x' }), 'AUTH_REJECTED');
    expect(h.issuer.requestCount('token')).toBe(2);
    const outcome = h.audit.ofKind('outcome').slice(outcomesBefore);
    expect(outcome[0]).toMatchObject({ outcome: 'AUTH_REJECTED', attempts: 2 });
    // A definitive rejection is not retried again by the next call: no issuer stampede.
    await expectCode(c.findOne({ sku: 'x' }), 'AUTH_REJECTED');
    expect(h.issuer.requestCount('token')).toBe(2);
    expect(isSecureNosqlError(error)).toBe(true);
  });

  test('13 Unauthorized → ACCESS_DENIED with no retry and no token refresh', async () => {
    const { h, mongo } = await setup({
      grants: { [SERVICE_ID]: [{ db: 'orders', collection: 'items', actions: ['read', 'write'] }, { db: 'orders', collection: 'locked', actions: ['read'] }] },
    });
    await mongo.collection('orders', 'items').insertOne({ sku: 'ok' });
    await expectCode(mongo.collection('orders', 'locked').insertOne({ sku: 'no' }), 'ACCESS_DENIED');
    expect(h.server.commandLog().filter((e) => e.command === 'insert' && e.collection === 'locked')).toHaveLength(1);
    h.server.forceError('find', { code: 13 });
    const findsBefore = h.server.commandCount('find');
    await expectCode(mongo.collection('orders', 'items').findOne({}), 'ACCESS_DENIED');
    expect(h.server.commandCount('find') - findsBefore).toBe(1);
    expect(h.issuer.requestCount('token')).toBe(1);
  });

  test('a network error on a read is retried once by the driver, never again by the guard', async () => {
    const { h, mongo } = await setup();
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'n' });
    let before = h.server.commandCount('find');
    h.server.forceError('find', { network: true });
    expect(await c.findOne({ sku: 'n' }, { projection: { _id: 0 } })).toEqual({ sku: 'n' });
    expect(h.server.commandCount('find') - before).toBe(2);
    h.server.forceError('find', { network: true, times: 2 });
    before = h.server.commandCount('find');
    const outcomesBefore = h.audit.ofKind('outcome').length;
    await expectCode(c.findOne({ sku: 'n' }), 'UPSTREAM_UNAVAILABLE');
    // Two attempts on the wire (driver's retryable read), one guarded attempt: no multiplication.
    expect(h.server.commandCount('find') - before).toBe(2);
    expect(h.audit.ofKind('outcome').slice(outcomesBefore)[0]).toMatchObject({ outcome: 'UPSTREAM_UNAVAILABLE', attempts: 1 });
  });

  test('a RetryableWriteError is retried once by the driver (exactly-once), not by the guard', async () => {
    const { h, mongo } = await setup();
    const c = mongo.collection('orders', 'writes');
    h.server.forceError('insert', { code: 91, labels: ['RetryableWriteError'] });
    await c.insertOne({ sku: 'w' });
    expect(h.server.commandCount('insert')).toBe(2);
    expect(h.server.documents('orders', 'writes')).toHaveLength(1);
    h.server.forceError('insert', { code: 11600, labels: ['RetryableWriteError'], times: 5 });
    await expectCode(c.insertOne({ sku: 'w2' }), 'UPSTREAM_UNAVAILABLE');
    expect(h.server.commandCount('insert')).toBe(4);
  });

  test('the token never appears in errors, audit records or inspect output', async () => {
    let reject = false;
    const { h, mongo } = await setup({ rejectTokens: () => reject });
    const c = mongo.collection('orders', 'items');
    await c.insertOne({ sku: 'canary' });
    const token = (await h.tokens.getToken(AUDIENCE)).value;
    const texts: string[] = [];
    reject = true;
    h.server.revokeToken(jtiOf(token));
    for (const call of [() => c.findOne({}), () => c.insertOne({ sku: 'y' })]) {
      try {
        await call();
      } catch (error) {
        texts.push(String(error), JSON.stringify(error), inspect(error, { depth: 5 }), (error as Error).stack ?? '');
      }
    }
    expect(texts.length).toBeGreaterThan(0);
    texts.push(JSON.stringify(h.audit.records), inspect(mongo, { depth: 5 }), inspect(c, { depth: 3 }));
    for (const text of texts) expect(text.includes(token)).toBe(false);
  });
});

describe('MongoDB adapter: the OIDC callback contract', () => {
  test('returns exactly { accessToken, expiresInSeconds } and honours the driver timeoutContext', async () => {
    const { OidcCallbackBridge } = await import('../../src/drivers/mongodb/oidc-callback.js');
    const h = await createMongoHarness();
    try {
      const bridge = new OidcCallbackBridge(h.tokens, AUDIENCE);
      const result = await bridge.callback({ version: 1, timeoutContext: new AbortController().signal });
      expect(Object.keys(result).sort()).toEqual(['accessToken', 'expiresInSeconds']);
      expect(result.expiresInSeconds).toBeGreaterThan(200);
      expect(result.expiresInSeconds).toBeLessThanOrEqual(300);
      // A rejected token is invalidated and the next callback fetches a fresh one, even if the issuer is slow and the driver gives up first.
      expect(bridge.credentialRejected(18)).toBe(false);
      h.issuer.hang('token');
      const controller = new AbortController();
      const pending = bridge.callback({ version: 1, timeoutContext: controller.signal });
      setTimeout(() => {
        controller.abort();
      }, 50);
      const error = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSecureNosqlError(error) && ['ABORTED', 'TIMEOUT', 'TOKEN_UNAVAILABLE'].includes(error.code), String(error)).toBe(true);
      h.issuer.resume();
      const fresh = await bridge.callback({ version: 1, timeoutContext: new AbortController().signal });
      expect(fresh.accessToken).not.toBe(result.accessToken);
      expect(bridge.forcedRefreshes).toBe(1);
      // The fresh token's own rejection (18) is definitive.
      expect(bridge.credentialRejected(18)).toBe(true);
    } finally {
      await h.close();
    }
  });

  test('a closed client refuses new operations with CLOSED and stats() reports the callbacks', async () => {
    const h = await createMongoHarness();
    try {
      const mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
      const c = mongo.collection('orders', 'items');
      await c.insertOne({ a: 1 });
      expect(mongo.stats()).toMatchObject({ certificateGeneration: 1, clientSwaps: 0, drainingClients: 0, forcedTokenRefreshes: 0 });
      expect(mongo.stats().oidcCallbacks).toBeGreaterThanOrEqual(1);
      await mongo.close();
      expect(() => mongo.collection('orders', 'items')).toThrow(/closed/);
      const error = await c.findOne({}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSecureNosqlError(error) && error.code === 'CLOSED').toBe(true);
    } finally {
      await h.close();
    }
  });
});
