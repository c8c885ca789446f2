import type {
  AbstractCursor,
  CollationOptions,
  Collection,
  CursorFlag,
  Document,
  Hint,
  ReadConcernLike,
  ReadPreferenceLike,
  Sort,
  SortDirection,
} from 'mongodb';
import type { OperationDescriptor } from '../../resilience/types.js';
import { findVerificationError } from './classify.js';
import type { ClientLease } from './client-rotation.js';
import type { MongoCore } from './core.js';

/**
 * A guarded cursor over `find`, `aggregate` or `listIndexes`. Every round
 * trip it makes — the initial command and each `getMore` batch — is one
 * guarded operation (policy, span, breaker, audit); documents already
 * buffered are returned without touching the network. The driver cursor is
 * created on the first fetch, from the client that is current then, and
 * keeps that client until it is exhausted or closed (so a certificate
 * rotation never cuts a cursor short).
 */
export interface GuardedCursor<T> extends AsyncIterable<T> {
  /** The next document, or `null` when the cursor is exhausted. */
  next(signal?: AbortSignal): Promise<T | null>;
  /** True when another document is available (fetches a batch if needed). */
  hasNext(signal?: AbortSignal): Promise<boolean>;
  /** Every remaining document. */
  toArray(signal?: AbortSignal): Promise<T[]>;
  /** Calls `iterator` for each document; stops when it returns `false`. */
  forEach(iterator: (doc: T) => boolean | void, signal?: AbortSignal): Promise<void>;
  /** Kills the server cursor (if open) and releases its client. */
  close(): Promise<void>;
  /** Documents buffered locally. */
  bufferedCount(): number;
  /** True once the cursor is exhausted or closed and nothing is buffered. */
  readonly closed: boolean;
  /** Server batch size for the initial command and each `getMore`. */
  batchSize(size: number): this;
  /** Server-side time limit per round trip. */
  maxTimeMS(ms: number): this;
  /** A comment attached to the commands. */
  comment(value: unknown): this;
  /** Maps each document (applied client-side by the driver). */
  map<U>(transform: (doc: T) => U): GuardedCursor<U>;
}

/** A guarded `find` cursor: {@link GuardedCursor} plus the find modifiers. */
export interface GuardedFindCursor<T> extends GuardedCursor<T> {
  filter(filter: Document): this;
  sort(sort: Sort | string, direction?: SortDirection): this;
  limit(value: number): this;
  skip(value: number): this;
  /** Projects fields; type the result with `project<{ ... }>()`. */
  project<U extends Document = Document>(projection: Document): GuardedFindCursor<U>;
  hint(hint: Hint): this;
  min(min: Document): this;
  max(max: Document): this;
  collation(collation: CollationOptions): this;
  allowDiskUse(allow?: boolean): this;
  addCursorFlag(flag: CursorFlag, value: boolean): this;
  withReadPreference(readPreference: ReadPreferenceLike): this;
  withReadConcern(readConcern: ReadConcernLike): this;
  returnKey(value: boolean): this;
  showRecordId(value: boolean): this;
  map<U>(transform: (doc: T) => U): GuardedFindCursor<U>;
}

/** How a guarded cursor reaches the driver. @internal */
export interface CursorPlan {
  readonly core: MongoCore;
  readonly db: string;
  readonly collection: string;
  /** Creates the driver cursor on a driver collection. */
  readonly create: (collection: Collection) => AbstractCursor;
  /** The initial command's descriptor (find / aggregate / listIndexes). */
  readonly first: OperationDescriptor;
  /** The descriptor of each later batch. */
  readonly getMore: OperationDescriptor;
  readonly signal: AbortSignal | undefined;
}

type Builder = readonly [string, readonly unknown[]];

/** @internal */
export class GuardedMongoCursor<T> implements GuardedFindCursor<T> {
  readonly #plan: CursorPlan;
  readonly #builders: Builder[] = [];
  #cursor: AbstractCursor | undefined;
  #lease: ClientLease | undefined;
  #initialized = false;
  #closed = false;
  #mapped = false;

  constructor(plan: CursorPlan) {
    this.#plan = plan;
  }

  #build(name: string, args: readonly unknown[]): this {
    this.#builders.push([name, args]);
    if (name === 'map') this.#mapped = true;
    // Applied now too when the driver cursor exists, so the driver reports misuse itself.
    if (this.#cursor !== undefined) (this.#cursor as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);
    return this;
  }

  filter(filter: Document): this { return this.#build('filter', [filter]); }
  sort(sort: Sort | string, direction?: SortDirection): this { return this.#build('sort', direction === undefined ? [sort] : [sort, direction]); }
  limit(value: number): this { return this.#build('limit', [value]); }
  skip(value: number): this { return this.#build('skip', [value]); }
  project<U extends Document = Document>(projection: Document): GuardedMongoCursor<U> { return this.#build('project', [projection]) as unknown as GuardedMongoCursor<U>; }
  hint(hint: Hint): this { return this.#build('hint', [hint]); }
  min(min: Document): this { return this.#build('min', [min]); }
  max(max: Document): this { return this.#build('max', [max]); }
  collation(collation: CollationOptions): this { return this.#build('collation', [collation]); }
  allowDiskUse(allow = true): this { return this.#build('allowDiskUse', [allow]); }
  addCursorFlag(flag: CursorFlag, value: boolean): this { return this.#build('addCursorFlag', [flag, value]); }
  withReadPreference(readPreference: ReadPreferenceLike): this { return this.#build('withReadPreference', [readPreference]); }
  withReadConcern(readConcern: ReadConcernLike): this { return this.#build('withReadConcern', [readConcern]); }
  returnKey(value: boolean): this { return this.#build('returnKey', [value]); }
  showRecordId(value: boolean): this { return this.#build('showRecordId', [value]); }
  batchSize(size: number): this { return this.#build('batchSize', [size]); }
  maxTimeMS(ms: number): this { return this.#build('maxTimeMS', [ms]); }
  comment(value: unknown): this { return this.#build('comment', [value]); }

  map<U>(transform: (doc: T) => U): GuardedMongoCursor<U> {
    this.#build('map', [transform]);
    return this as unknown as GuardedMongoCursor<U>;
  }

  get closed(): boolean {
    return this.#closed || (this.#exhausted() && this.bufferedCount() === 0);
  }

  bufferedCount(): number {
    return this.#cursor?.bufferedCount() ?? 0;
  }

  #exhausted(): boolean {
    if (!this.#initialized || this.#cursor === undefined) return false;
    const id = this.#cursor.id;
    return id === undefined || id.isZero() || this.#cursor.killed;
  }

  #materialize(): AbstractCursor {
    const plan = this.#plan;
    this.#dropDriverCursor();
    const lease = plan.core.rotation.openCursor();
    this.#lease = lease;
    let cursor = plan.create(lease.collection(plan.db, plan.collection));
    for (const [name, args] of this.#builders) {
      cursor = ((cursor as unknown as Record<string, (...a: unknown[]) => AbstractCursor>)[name]?.(...args) ?? cursor);
    }
    this.#cursor = cursor;
    this.#initialized = false;
    return cursor;
  }

  #dropDriverCursor(): void {
    const old = this.#cursor;
    this.#cursor = undefined;
    if (old !== undefined) old.close().catch(() => undefined);
    this.#releaseLease();
  }

  #releaseLease(): void {
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) this.#plan.core.rotation.closeCursor(lease);
  }

  /** One guarded round trip: the initial command, or one getMore. */
  async #fetch<R>(use: (cursor: AbstractCursor) => Promise<R>, signal: AbortSignal | undefined): Promise<R> {
    const plan = this.#plan;
    const first = !this.#initialized;
    const rotation = plan.core.rotation;
    const callSignal = signal ?? plan.signal;
    let result: R;
    try {
      result = await plan.core.guard.run<R>({
        op: first ? plan.first : plan.getMore,
        classify: first ? plan.core.classify : plan.core.classifyGetMore,
        ...(callSignal === undefined ? {} : { signal: callSignal }),
        attempt: async (ctx) => {
          // A failed initial command leaves the driver cursor closed: every first attempt starts a fresh one on the current client.
          const cursor = first && (ctx.attempt > 1 || this.#cursor === undefined) ? this.#materialize() : this.#cursor;
          const lease = this.#lease;
          if (cursor === undefined || lease === undefined) throw new Error('cursor state lost');
          rotation.hold(lease);
          try {
            await rotation.ready(lease);
            return await use(cursor);
          } catch (error) {
            throw findVerificationError(error) ?? error;
          } finally {
            rotation.release(lease);
          }
        },
      });
    } catch (error) {
      // The initial command can be re-run by the next call; a lost getMore cannot (the server cursor is gone).
      if (first) this.#dropDriverCursor();
      else await this.close();
      throw error;
    }
    this.#initialized = true;
    if (this.#exhausted()) this.#releaseLease();
    return result;
  }

  async next(signal?: AbortSignal): Promise<T | null> {
    if (this.#closed) return null;
    const cursor = this.#cursor;
    if (cursor !== undefined && cursor.bufferedCount() > 0) return (await cursor.next()) as T | null;
    if (this.#exhausted()) return null;
    return (await this.#fetch((c) => c.next(), signal)) as T | null;
  }

  async hasNext(signal?: AbortSignal): Promise<boolean> {
    if (this.#closed) return false;
    if (this.bufferedCount() > 0) return true;
    if (this.#exhausted()) return false;
    return this.#fetch((c) => c.hasNext(), signal);
  }

  async toArray(signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    for (;;) {
      const cursor = this.#cursor;
      if (cursor !== undefined && !this.#mapped && cursor.bufferedCount() > 0) {
        for (const doc of cursor.readBufferedDocuments()) out.push(doc as T);
        continue;
      }
      const doc = await this.next(signal);
      if (doc === null) return out;
      out.push(doc);
    }
  }

  async forEach(iterator: (doc: T) => boolean | void, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const doc = await this.next(signal);
      if (doc === null) return;
      if (iterator(doc) === false) return;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    try {
      for (;;) {
        const doc = await this.next();
        if (doc === null) return;
        yield doc;
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const cursor = this.#cursor;
    this.#cursor = undefined;
    try {
      if (cursor !== undefined) await cursor.close();
    } catch {
      // killCursors is best effort; the server reaps idle cursors
    } finally {
      this.#releaseLease();
    }
  }
}
