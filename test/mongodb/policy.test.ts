import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMongoClient, type GuardedCollection, type SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import { hasErrorCode } from '../../src/errors/index.js';
import type { PolicyDocument } from '../../src/policy/index.js';
import { AUDIENCE, createMongoHarness, fixtureUri, SERVICE_ID, type MongoHarness } from './harness.js';

const POLICY: PolicyDocument = {
  version: 1,
  services: [
    {
      id: SERVICE_ID,
      rules: [
        { id: 'items-rw', resources: ['mongodb:orders/items'], actions: ['read', 'write'] },
        { id: 'catalog-r', resources: ['mongodb:orders/catalog'], actions: ['read'] },
        { id: 'report-rw', resources: ['mongodb:orders/report'], actions: ['read', 'write'] },
      ],
    },
  ],
};

async function denied(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasErrorCode(error, 'POLICY_DENIED'), String(error)).toBe(true);
}

describe('MongoDB adapter: least-privilege policy is enforced before anything is sent', () => {
  let h: MongoHarness;
  let mongo: SecureMongoClient;
  let items: GuardedCollection;

  beforeAll(async () => {
    h = await createMongoHarness({ policy: POLICY });
    mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
    items = mongo.collection('orders', 'items');
    await items.insertMany([
      { sku: 'a', cat: 1 },
      { sku: 'b', cat: 2 },
    ]);
    await mongo.collection('orders', 'catalog').countDocuments({});
  });

  afterAll(async () => {
    await mongo.close();
    await h.close();
  });

  /** Runs `body` and asserts the server saw no command on any collection meanwhile. */
  async function nothingSent(body: () => Promise<void>): Promise<void> {
    const before = h.server.dataCommandCount();
    await body();
    expect(h.server.dataCommandCount() - before).toBe(0);
  }

  test('reads, writes and admin outside the grants are POLICY_DENIED and never reach the server', async () => {
    await nothingSent(async () => {
      await denied(mongo.collection('orders', 'secret').findOne({}));
      await denied(mongo.collection('orders', 'secret').find({}).toArray());
      await denied(mongo.collection('orders', 'catalog').insertOne({ sku: 'x' }));
      await denied(items.createIndex({ sku: 1 }));
      await denied(items.drop());
      await denied(mongo.collection('orders-evil', 'items').findOne({}));
    });
    const deny = h.audit.ofKind('decision').filter((r) => r.decision === 'deny');
    expect(deny.map((r) => r.resource)).toContain('mongodb:orders/secret');
    expect(deny.every((r) => r.service === SERVICE_ID)).toBe(true);
  });

  test('$out and $merge are writes on their target; $lookup/$unionWith/$graphLookup are reads on the joined collection', async () => {
    await nothingSent(async () => {
      await denied(items.aggregate([{ $match: {} }, { $out: 'catalog' }]).toArray());
      await denied(items.aggregate([{ $merge: { into: { db: 'orders', coll: 'secret' } } }]).toArray());
      await denied(items.aggregate([{ $out: { db: 'other', coll: 'x' } }]).toArray());
      await denied(items.aggregate([{ $lookup: { from: 'secret', localField: 'sku', foreignField: 'sku', as: 's' } }]).toArray());
      await denied(items.aggregate([{ $unionWith: 'secret' }]).toArray());
      await denied(items.aggregate([{ $unionWith: { coll: 'catalog', pipeline: [{ $lookup: { from: 'secret', pipeline: [], as: 'x' } }] } }]).toArray());
      await denied(items.aggregate([{ $graphLookup: { from: 'secret', startWith: '$sku', connectFromField: 'a', connectToField: 'b', as: 'g' } }]).toArray());
      await denied(items.aggregate([{ $facet: { a: [{ $match: {} }], b: [{ $lookup: { from: 'catalog', as: 'c', pipeline: [{ $unionWith: 'secret' }] } }] } }]).toArray());
    });
  });

  test('a pipeline whose every touched collection is granted runs, joins included', async () => {
    await mongo.collection('orders', 'report').deleteMany({});
    const joined = await items
      .aggregate<{ sku: string; n: number }>([{ $lookup: { from: 'catalog', localField: 'cat', foreignField: 'id', as: 'c' } }, { $project: { _id: 0, sku: 1, n: { $size: '$c' } } }, { $sort: { sku: 1 } }])
      .toArray();
    expect(joined).toEqual([
      { sku: 'a', n: 0 },
      { sku: 'b', n: 0 },
    ]);
    await items.aggregate([{ $project: { _id: 0, sku: 1 } }, { $merge: { into: 'report' } }]).toArray();
    expect((await mongo.collection('orders', 'report').find({}, { projection: { _id: 0 } }).toArray()).map((d) => d.sku as string).sort()).toEqual(['a', 'b']);
  });

  test('methods outside the action table (change streams, legacy bulk builders) are denied', async () => {
    await nothingSent(async () => {
      const raw = items as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      await denied(raw.watch!());
      await denied(raw.initializeOrderedBulkOp!());
    });
    expect(typeof items.collectionName).toBe('string');
    expect(items.collectionName).toBe('items');
    expect(items.namespace).toBe('orders.items');
  });
});

describe('MongoDB adapter without a policy', () => {
  test('unknown methods are still refused with POLICY_DENIED', async () => {
    const h = await createMongoHarness();
    const mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
    try {
      const before = h.server.dataCommandCount();
      const raw = mongo.collection('orders', 'items') as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      await denied(raw.watch!([]));
      expect(h.server.dataCommandCount()).toBe(before);
      expect(h.audit.ofKind('outcome').at(-1)).toMatchObject({ outcome: 'POLICY_DENIED', operation: 'watch' });
    } finally {
      await mongo.close();
      await h.close();
    }
  });
});

describe('MongoDB adapter: unreadable pipelines', () => {
  test('a pipeline stage whose target cannot be determined is refused even without a policy', async () => {
    const h = await createMongoHarness();
    const mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
    try {
      const before = h.server.dataCommandCount();
      const c = mongo.collection('orders', 'items');
      await denied(c.aggregate([{ $out: 42 }]).toArray());
      await denied(c.aggregate([{ $lookup: { from: { weird: true }, as: 'x' } }]).toArray());
      expect(h.server.dataCommandCount()).toBe(before);
    } finally {
      await mongo.close();
      await h.close();
    }
  });
});
