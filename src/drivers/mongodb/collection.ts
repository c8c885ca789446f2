import type {
  AggregateOptions,
  Collection,
  Document,
  Filter,
  FindOptions,
  IndexDescriptionInfo,
  ListIndexesOptions,
  RenameOptions,
  WithId,
} from 'mongodb';
import { inspect } from 'node:util';
import { SecureNosqlError } from '../../errors/index.js';
import type { OperationDescriptor } from '../../resilience/types.js';
import { accessesFor, COLLECTION_METHOD_ACTIONS } from './actions.js';
import { findVerificationError } from './classify.js';
import { describe, type MongoCore } from './core.js';
import { GuardedMongoCursor, type GuardedCursor, type GuardedFindCursor } from './cursor.js';

/**
 * A MongoDB collection whose every call goes through the guard pipeline
 * (policy on `mongodb:<db>/<collection>`, span, breaker, audit, auth-aware
 * retry). It keeps the driver's `Collection` methods and signatures;
 * `find`, `aggregate` and `listIndexes` return guarded cursors whose batches
 * are guarded too. Methods outside the action table (change streams, legacy
 * bulk builders, search-index management) are denied with POLICY_DENIED.
 * Pass `signal` in a method's options to abort the guarded call.
 */
export type GuardedCollection<TSchema extends Document = Document> = Omit<
  Collection<TSchema>,
  // Re-typed below (guarded cursors, a guarded renamed collection):
  | 'find'
  | 'aggregate'
  | 'listIndexes'
  | 'rename'
  // Refused with POLICY_DENIED: change streams, legacy bulk builders, Atlas Search index management.
  | 'watch'
  | 'initializeOrderedBulkOp'
  | 'initializeUnorderedBulkOp'
  | 'listSearchIndexes'
  | 'createSearchIndex'
  | 'createSearchIndexes'
  | 'dropSearchIndex'
  | 'updateSearchIndex'
> & {
  find(filter?: Filter<TSchema>, options?: FindOptions): GuardedFindCursor<WithId<TSchema>>;
  find<T extends Document>(filter: Filter<TSchema>, options?: FindOptions): GuardedFindCursor<T>;
  aggregate<T extends Document = Document>(pipeline?: Document[], options?: AggregateOptions): GuardedCursor<T>;
  listIndexes(options?: ListIndexesOptions): GuardedCursor<IndexDescriptionInfo>;
  /** Renames the collection (admin on both names) and returns the guarded collection under its new name. */
  rename(newName: string, options?: RenameOptions): Promise<GuardedCollection<TSchema>>;
};

type AnyMethod = (...args: unknown[]) => unknown;

function signalOf(args: readonly unknown[]): AbortSignal | undefined {
  for (let i = args.length - 1; i >= 0; i--) {
    const a = args[i];
    if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
      const s = (a as { signal?: unknown }).signal;
      if (s instanceof AbortSignal) return s;
    }
  }
  return undefined;
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

const CURSOR_FACTORIES = {
  find: (c: Collection, args: readonly unknown[]) => c.find(args[0] as Filter<Document> | undefined ?? {}, args[1] as FindOptions | undefined),
  aggregate: (c: Collection, args: readonly unknown[]) => c.aggregate(args[0] as Document[] | undefined ?? [], args[1] as AggregateOptions | undefined),
  listIndexes: (c: Collection, args: readonly unknown[]) => c.listIndexes(args[0] as ListIndexesOptions | undefined),
} as const;

/**
 * Builds a guarded collection: a Proxy over a table of guarded methods. Any
 * other function property of the driver's Collection is denied; plain
 * properties (`collectionName`, `namespace`, `readConcern`, ...) are read
 * from the current client's collection.
 * @internal
 */
export function createGuardedCollection<TSchema extends Document>(core: MongoCore, db: string, name: string, cache: (db: string, name: string) => GuardedCollection): GuardedCollection<TSchema> {
  const descriptors = new Map<string, OperationDescriptor>();
  const rotation = core.rotation;

  const staticDescriptor = (method: string): OperationDescriptor => {
    let op = descriptors.get(method);
    if (op === undefined) {
      op = describe(core, method, db, name, accessesFor(method, db, name, []));
      descriptors.set(method, op);
    }
    return op;
  };

  // A pipeline that touches only its own collection shares the static descriptor (the guard caches per descriptor).
  const dynamicDescriptor = (method: string, args: readonly unknown[]): OperationDescriptor => {
    const accesses = accessesFor(method, db, name, args);
    return accesses.length === 1 ? staticDescriptor(method) : describe(core, method, db, name, accesses);
  };

  const run = (method: string, args: unknown[]): Promise<unknown> => {
    const op = method === 'aggregate' || method === 'rename' ? dynamicDescriptor(method, args) : staticDescriptor(method);
    if (op.accesses.length === 0) return denied(method, 'has a pipeline stage whose target collection cannot be determined')(...args);
    return core.guard.run({
      op,
      classify: core.classify,
      ...signalOption(signalOf(args)),
      attempt: async () => {
        const lease = rotation.lease();
        try {
          await rotation.ready(lease);
          const collection = lease.collection(db, name) as unknown as Record<string, AnyMethod>;
          return await (collection[method] as AnyMethod).apply(collection, args);
        } catch (error) {
          throw findVerificationError(error) ?? error;
        } finally {
          rotation.release(lease);
        }
      },
    });
  };

  const refusal = (method: string, why: string): SecureNosqlError =>
    new SecureNosqlError('POLICY_DENIED', `secure-nosql mongodb: ${method} on ${db}.${name} ${why} and is refused.`, {
      details: { operation: method, resource: `mongodb:${db}/${name}` },
      remediation: 'Use a supported collection method (find, aggregate, insertOne, updateMany, bulkWrite, createIndex, ...) with a well-formed pipeline.',
    });

  const denied =
    (method: string, why = 'is not a guarded operation (it has no entry in the method-to-action table)') =>
    (...args: unknown[]): Promise<never> =>
      core.guard.run({
        // No accesses: a configured policy denies it; without one the attempt refuses it anyway.
        op: describe(core, method, db, name, []),
        classify: core.classify,
        ...signalOption(signalOf(args)),
        attempt: () => Promise.reject(refusal(method, why)),
      });

  const cursor = (method: keyof typeof CURSOR_FACTORIES) => (...args: unknown[]): GuardedMongoCursor<Document> => {
    const first = method === 'aggregate' ? dynamicDescriptor(method, args) : staticDescriptor(method);
    let getMore = descriptors.get(`getMore:${method}`);
    if (getMore === undefined) {
      getMore = describe(core, 'getMore', db, name, accessesFor('find', db, name, []));
      descriptors.set(`getMore:${method}`, getMore);
    }
    const factory = CURSOR_FACTORIES[method];
    const create =
      first.accesses.length === 0
        ? () => {
            throw refusal(method, 'has a pipeline stage whose target collection cannot be determined');
          }
        : (c: Collection) => factory(c, args);
    return new GuardedMongoCursor({ core, db, collection: name, create, first, getMore, signal: signalOf(args) });
  };

  const methods: Record<string, unknown> = {
    find: cursor('find'),
    aggregate: cursor('aggregate'),
    listIndexes: cursor('listIndexes'),
    rename: async (...args: unknown[]) => {
      await run('rename', args);
      return cache(db, String(args[0]));
    },
    [inspect.custom]: () => `GuardedCollection(mongodb:${db}/${name})`,
  };
  for (const method of Object.keys(COLLECTION_METHOD_ACTIONS)) {
    if (!(method in methods)) methods[method] = (...args: unknown[]) => run(method, args);
  }
  const deniedCache = new Map<string, unknown>();
  return new Proxy(methods, {
    get(target, prop) {
      if (Object.hasOwn(target, prop)) return target[prop as string];
      if (typeof prop === 'symbol') return undefined;
      if (prop === 'then') return undefined; // never look like a thenable
      const live = rotation.peek(db, name) as unknown as Record<string, unknown>;
      const value = live[prop];
      if (typeof value !== 'function') return value;
      let d = deniedCache.get(prop);
      if (d === undefined) {
        d = denied(prop);
        deniedCache.set(prop, d);
      }
      return d;
    },
    has(target, prop) {
      return Object.hasOwn(target, prop) || (typeof prop === 'string' && prop in (rotation.peek(db, name) as object));
    },
  }) as unknown as GuardedCollection<TSchema>;
}
