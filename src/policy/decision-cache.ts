import type { Decision } from './types.js';

/**
 * A bounded, short-TTL cache of decisions (internal). Insertion order is the
 * eviction order; an expired entry is dropped when read.
 */
export class DecisionCache {
  readonly #entries = new Map<string, { readonly decision: Decision; readonly expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: () => number,
  ) {}

  /** The cached decision, if fresh. */
  get(key: string): Decision | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= this.clock()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.decision;
  }

  /** Stores a decision; evicts the oldest entry when full. */
  set(key: string, decision: Decision): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { decision, expires: this.clock() + this.ttlMs });
  }

  /** Number of entries (fresh or not). */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries.clear();
  }
}

/** Counters exposed by the caching decision points. */
export interface DecisionPointStats {
  /** Decisions answered from the cache. */
  readonly cacheHits: number;
  /** Decisions that had to be evaluated. */
  readonly cacheMisses: number;
  /** Calls to the engine or remote service. */
  readonly evaluations: number;
  /** Evaluations that failed (unreachable, timeout, invalid answer, engine error): each denied. */
  readonly failures: number;
}
