import type { Collection, MongoClient } from 'mongodb';
import type { CertificateGeneration, CertificateSource } from '../../certificates/types.js';
import { SecureNosqlError } from '../../errors/index.js';
import type { Disposable } from '../../internal/events.js';

/** One MongoClient bound to one certificate generation; what an operation or cursor leases. @internal */
export class ClientLease {
  readonly client: MongoClient;
  readonly generation: number;
  /** Operations running on this client. */
  inflight = 0;
  /** Cursors opened on this client and not yet closed or exhausted. */
  cursors = 0;
  retiring = false;
  closed = false;
  /**
   * False after a failed connect: the driver then closes that client's topology but keeps it, so every
   * later operation would fail with MongoTopologyClosedError; `connect()` must open a new one first.
   */
  ready = true;
  connecting: Promise<void> | undefined;
  deadline: NodeJS.Timeout | undefined;
  readonly #collections = new Map<string, Collection>();

  constructor(client: MongoClient, generation: number) {
    this.client = client;
    this.generation = generation;
  }

  collection(db: string, name: string): Collection {
    const key = `${db}\u0000${name}`;
    let c = this.#collections.get(key);
    if (c === undefined) {
      c = this.client.db(db).collection(name);
      this.#collections.set(key, c);
    }
    return c;
  }
}

/** Options of {@link RotatingMongoClient}. @internal */
export interface RotatingMongoClientOptions {
  readonly certificates: CertificateSource;
  readonly build: (generation: CertificateGeneration) => MongoClient;
  /** How long a retired client may drain before it is closed, ms. */
  readonly drainTimeoutMs: number;
  /** Called after each swap with the new current generation. */
  readonly onSwap?: (generation: number) => void;
  /** Called with the error when a rotation's pre-connect fails (the swap still happens). */
  readonly onRotationError?: (error: unknown) => void;
}

/**
 * Keeps one live MongoClient per certificate generation and swaps on rotation.
 *
 * Why a new client rather than a new certificate on the old one: the driver
 * copies the TLS options (`secureContext`, `cert`, `key`) into each
 * connection pool when the client is created and reuses them for every
 * connection it opens, so neither replacing those options nor mutating the
 * Buffers reaches new connections. The only way to make *new* connections
 * present the new certificate through the public API is a new MongoClient.
 * (A secure context whose native handle is swapped behind a getter would
 * work, but depends on Node internals and is not done.)
 *
 * The swap is: build the client for the new generation, pre-connect it
 * (bounded by its server-selection timeout), then atomically make it
 * current. Guarded collections and cursors resolve the current client when an
 * operation starts and hold a lease until it ends, so in-flight operations
 * finish on the client they started on. The previous client is closed as
 * soon as its lease count reaches zero, or after the drain deadline.
 * @internal
 */
export class RotatingMongoClient {
  readonly #options: RotatingMongoClientOptions;
  readonly #subscription: Disposable;
  readonly #retired = new Set<ClientLease>();
  #current: ClientLease;
  #rotation: Promise<void> = Promise.resolve();
  #pending: CertificateGeneration | undefined;
  #closed = false;
  #swaps = 0;

  constructor(options: RotatingMongoClientOptions) {
    this.#options = options;
    const generation = options.certificates.current();
    this.#current = new ClientLease(options.build(generation), generation.generation);
    this.#subscription = options.certificates.on((event) => {
      if (event.type !== 'rotated') return;
      this.#pending = event.current;
      this.#rotation = this.#rotation.then(() => this.#swap());
    });
  }

  /** Connects the first client. */
  async connect(signal: AbortSignal | undefined): Promise<void> {
    const connecting = this.#current.client.connect();
    if (signal === undefined) {
      await connecting;
      return;
    }
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([connecting, aborted]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      connecting.catch(() => undefined);
    }
  }

  /** The generation new operations use. */
  get generation(): number {
    return this.#current.generation;
  }

  /** Completed client swaps. */
  get swaps(): number {
    return this.#swaps;
  }

  /** Retired clients still draining. */
  get draining(): number {
    return this.#retired.size;
  }

  /** Waits for every queued rotation to finish (tests and shutdown). */
  async settled(): Promise<void> {
    await this.#rotation;
  }

  /** The current client's driver collection, without a lease (for reading plain properties). */
  peek(db: string, name: string): Collection {
    return this.#current.collection(db, name);
  }

  /** Leases the current client for one operation; pair with {@link release}. */
  lease(): ClientLease {
    this.#assertOpen();
    const slot = this.#current;
    slot.inflight++;
    return slot;
  }

  /**
   * Reconnects a leased client whose last connect failed (a no-op otherwise). Concurrent callers share
   * one connect; its failure (e.g. 18 for a revoked token) reaches the caller's classifier like any
   * operation error, so a rejected token is refreshed and the guard's retry reconnects with a fresh one.
   */
  async ready(lease: ClientLease): Promise<void> {
    if (lease.ready || lease.closed) return;
    lease.connecting ??= lease.client
      .connect()
      .then(() => {
        lease.ready = true;
      })
      .finally(() => {
        lease.connecting = undefined;
      });
    await lease.connecting;
  }

  /** Leases a specific client (a cursor's) for one operation; pair with {@link release}. */
  hold(lease: ClientLease): void {
    this.#assertOpen();
    lease.inflight++;
  }

  /** Ends an operation lease; a retired client closes when nothing uses it any more. */
  release(lease: ClientLease): void {
    const slot = lease;
    slot.inflight--;
    this.#closeIfIdle(slot);
  }

  /** Pins the current client for a cursor's lifetime; pair with {@link closeCursor}. */
  openCursor(): ClientLease {
    this.#assertOpen();
    const slot = this.#current;
    slot.cursors++;
    return slot;
  }

  /** Ends a cursor's pin. */
  closeCursor(lease: ClientLease): void {
    const slot = lease;
    slot.cursors--;
    this.#closeIfIdle(slot);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'secure-nosql mongodb: the client was closed; create a new one.');
  }

  #closeIfIdle(slot: ClientLease): void {
    if (slot.retiring && slot.inflight <= 0 && slot.cursors <= 0) this.#closeSlot(slot);
  }

  async #swap(): Promise<void> {
    const generation = this.#pending;
    this.#pending = undefined;
    if (generation === undefined || this.#closed || generation.generation <= this.#current.generation) return;
    let next: ClientLease;
    try {
      next = new ClientLease(this.#options.build(generation), generation.generation);
    } catch (error) {
      this.#options.onRotationError?.(error);
      return;
    }
    try {
      await next.client.connect();
    } catch (error) {
      // Swap anyway: new connections must present the new certificate. The driver closed the failed
      // topology, so the next operation reconnects (see ready()); reporting the error lets the
      // classifier hand a rejected token (18) to the OIDC bridge first, so that reconnect uses a fresh one.
      next.ready = false;
      this.#options.onRotationError?.(error);
    }
    if (this.#closed) {
      await next.client.close().catch(() => undefined);
      return;
    }
    const previous = this.#current;
    this.#current = next;
    this.#swaps++;
    this.#retire(previous);
    this.#options.onSwap?.(next.generation);
  }

  #retire(slot: ClientLease): void {
    slot.retiring = true;
    this.#retired.add(slot);
    if (slot.inflight <= 0 && slot.cursors <= 0) {
      this.#closeSlot(slot);
      return;
    }
    slot.deadline = setTimeout(() => {
      this.#closeSlot(slot);
    }, this.#options.drainTimeoutMs);
    slot.deadline.unref();
  }

  #closeSlot(slot: ClientLease): void {
    if (slot.closed) return;
    slot.closed = true;
    if (slot.deadline !== undefined) clearTimeout(slot.deadline);
    this.#retired.delete(slot);
    slot.client.close().catch(() => undefined);
  }

  /** Stops following rotations, waits up to `drainTimeoutMs` for in-flight operations (open cursors do not hold it up), then closes every client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription.dispose();
    await this.#rotation.catch(() => undefined);
    const slots = [this.#current, ...this.#retired];
    const deadline = Date.now() + this.#options.drainTimeoutMs;
    while (slots.some((s) => s.inflight > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(
      slots.map(async (s) => {
        s.closed = true;
        if (s.deadline !== undefined) clearTimeout(s.deadline);
        this.#retired.delete(s);
        await s.client.close().catch(() => undefined);
      }),
    );
  }
}
