import { expect, test } from 'vitest';
import type { SecureMongoClient } from '../../src/drivers/mongodb/index.js';

/**
 * The CRUD suite every deployment must pass: the wire-protocol fixture and,
 * when MONGODB_URI is set, a real MongoDB. `dbName` is a database the
 * identity may read, write and administer; each test uses its own collection
 * and drops it first.
 */
export function defineCrudSuite(client: () => SecureMongoClient, dbName: string): void {
  const fresh = async (name: string) => {
    const c = client().collection<{ sku: string; qty: number; tags?: string[]; note?: string }>(dbName, name);
    await c.drop().catch(() => undefined);
    return c;
  };

  test('insertOne / insertMany / findOne / countDocuments / estimatedDocumentCount', async () => {
    const c = await fresh('items_basic');
    const one = await c.insertOne({ sku: 'a1', qty: 1 });
    expect(one.acknowledged).toBe(true);
    const many = await c.insertMany([{ sku: 'b1', qty: 5 }, { sku: 'c1', qty: 9 }]);
    expect(many.insertedCount).toBe(2);
    expect(await c.findOne({ sku: 'b1' }, { projection: { _id: 0 } })).toEqual({ sku: 'b1', qty: 5 });
    expect(await c.countDocuments({ qty: { $gte: 5 } })).toBe(2);
    expect(await c.estimatedDocumentCount()).toBe(3);
  });

  test('updateOne with $set/$inc/$push, upsert, updateMany, replaceOne', async () => {
    const c = await fresh('items_update');
    await c.insertMany([{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }, { sku: 'c', qty: 3 }]);
    const u = await c.updateOne({ sku: 'a' }, { $set: { note: 'x' }, $inc: { qty: 10 }, $push: { tags: 'new' } });
    expect(u.matchedCount).toBe(1);
    expect(u.modifiedCount).toBe(1);
    expect(await c.findOne({ sku: 'a' }, { projection: { _id: 0 } })).toEqual({ sku: 'a', qty: 11, note: 'x', tags: ['new'] });
    const up = await c.updateOne({ sku: 'z' }, { $set: { qty: 7 } }, { upsert: true });
    expect(up.upsertedCount).toBe(1);
    expect(await c.findOne({ sku: 'z' }, { projection: { _id: 0 } })).toEqual({ sku: 'z', qty: 7 });
    const many = await c.updateMany({ qty: { $lt: 5 } }, { $inc: { qty: 100 } });
    expect(many.modifiedCount).toBe(2);
    const r = await c.replaceOne({ sku: 'c' }, { sku: 'c', qty: 0 });
    expect(r.modifiedCount).toBe(1);
    const all = await c.find({}, { projection: { _id: 0, sku: 1, qty: 1 } }).sort({ sku: 1 }).toArray();
    expect(all).toEqual([
      { sku: 'a', qty: 11 },
      { sku: 'b', qty: 102 },
      { sku: 'c', qty: 0 },
      { sku: 'z', qty: 7 },
    ]);
  });

  test('deleteOne / deleteMany / findOneAndUpdate / findOneAndReplace / findOneAndDelete', async () => {
    const c = await fresh('items_delete');
    await c.insertMany(Array.from({ length: 6 }, (_, i) => ({ sku: `s${i}`, qty: i })));
    expect((await c.deleteOne({ sku: 's0' })).deletedCount).toBe(1);
    expect((await c.deleteMany({ qty: { $gte: 4 } })).deletedCount).toBe(2);
    const after = await c.findOneAndUpdate({ sku: 's1' }, { $inc: { qty: 10 } }, { returnDocument: 'after', projection: { _id: 0 } });
    expect(after).toEqual({ sku: 's1', qty: 11 });
    const before = await c.findOneAndReplace({ sku: 's2' }, { sku: 's2', qty: -1 }, { projection: { _id: 0 } });
    expect(before).toEqual({ sku: 's2', qty: 2 });
    const removed = await c.findOneAndDelete({ sku: 's3' }, { projection: { _id: 0 } });
    expect(removed).toEqual({ sku: 's3', qty: 3 });
    expect(await c.countDocuments({})).toBe(2);
  });

  test('bulkWrite, distinct, aggregate with $group/$sort, createIndex/listIndexes/dropIndex', async () => {
    const c = await fresh('items_bulk');
    const bulk = await c.bulkWrite([
      { insertOne: { document: { sku: 'a', qty: 1, tags: ['x'] } } },
      { insertOne: { document: { sku: 'b', qty: 2, tags: ['x', 'y'] } } },
      { insertOne: { document: { sku: 'c', qty: 3, tags: ['y'] } } },
      { updateOne: { filter: { sku: 'a' }, update: { $set: { qty: 4 } } } },
      { deleteOne: { filter: { sku: 'c' } } },
    ]);
    expect(bulk.insertedCount).toBe(3);
    expect(bulk.modifiedCount).toBe(1);
    expect(bulk.deletedCount).toBe(1);
    expect((await c.distinct('tags')).sort()).toEqual(['x', 'y']);
    const groups = await c
      .aggregate<{ _id: string; total: number }>([{ $unwind: '$tags' }, { $group: { _id: '$tags', total: { $sum: '$qty' } } }, { $sort: { _id: 1 } }])
      .toArray();
    expect(groups).toEqual([
      { _id: 'x', total: 6 },
      { _id: 'y', total: 2 },
    ]);
    const name = await c.createIndex({ sku: 1 });
    expect(name).toBe('sku_1');
    const indexes = await c.listIndexes().toArray();
    expect(indexes.map((i) => i.name).sort()).toEqual(['_id_', 'sku_1']);
    await c.dropIndex('sku_1');
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_']);
    expect(await c.drop()).toBe(true);
  });

  test('a cursor larger than one batch pages through getMore', async () => {
    const c = await fresh('items_cursor');
    await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ sku: `k${String(i).padStart(3, '0')}`, qty: i })));
    const docs = await c.find({ qty: { $gte: 0 } }, { batchSize: 40 }).sort({ qty: -1 }).toArray();
    expect(docs).toHaveLength(250);
    expect(docs[0]?.qty).toBe(249);
    expect(docs[249]?.qty).toBe(0);
    const page = await c.find({}).sort({ qty: 1 }).skip(10).limit(5).project<{ qty: number }>({ _id: 0, qty: 1 }).toArray();
    expect(page).toEqual([10, 11, 12, 13, 14].map((qty) => ({ qty })));
  });
}
