/** The per-target retry budget (DESIGN.md §5): retries ≤ ratio × recent calls + a minimum. */
export interface RetryBudgetOptions {
  /** Share of recent calls that may be retried (default 0.1). */
  readonly ratio?: number;
  /** Retries always allowed per window, so a quiet target can still retry (default 10). */
  readonly minRetriesPerWindow?: number;
  /** Sliding window length, ms (default 10 000). */
  readonly windowMs?: number;
}

const BUCKETS = 10;

/**
 * A sliding-window token budget for retries, kept in ten buckets so
 * recording a call is two array writes and no allocation. Calls and retries
 * older than the window fall out.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #min: number;
  readonly #bucketMs: number;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #head = 0; // absolute bucket number of the newest bucket
  #sumCalls = 0;
  #sumRetries = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? 0.1;
    this.#min = options.minRetriesPerWindow ?? 10;
    const windowMs = options.windowMs ?? 10_000;
    if (!(this.#ratio >= 0) || !Number.isFinite(this.#ratio)) throw new RangeError('budget.ratio must be a finite number ≥ 0');
    if (!(this.#min >= 0)) throw new RangeError('budget.minRetriesPerWindow must be ≥ 0');
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError('budget.windowMs must be a finite number > 0');
    this.#bucketMs = windowMs / BUCKETS;
  }

  #advance(now: number): number {
    const bucket = Math.floor(now / this.#bucketMs);
    const gap = bucket - this.#head;
    if (gap > 0) {
      const clear = Math.min(gap, BUCKETS);
      for (let i = 1; i <= clear; i++) {
        const slot = (this.#head + i) % BUCKETS;
        this.#sumCalls -= this.#calls[slot] ?? 0;
        this.#sumRetries -= this.#retries[slot] ?? 0;
        this.#calls[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#head = bucket;
    }
    return ((this.#head % BUCKETS) + BUCKETS) % BUCKETS;
  }

  /** Counts one call (not a retry). */
  recordCall(now: number): void {
    const slot = this.#advance(now);
    this.#calls[slot] = (this.#calls[slot] ?? 0) + 1;
    this.#sumCalls++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(now: number): boolean {
    const slot = this.#advance(now);
    if (this.#sumRetries >= this.#min + this.#ratio * this.#sumCalls) return false;
    this.#retries[slot] = (this.#retries[slot] ?? 0) + 1;
    this.#sumRetries++;
    return true;
  }

  /** Calls and retries in the current window (for tests and diagnostics). */
  get usage(): { readonly calls: number; readonly retries: number } {
    return { calls: this.#sumCalls, retries: this.#sumRetries };
  }
}
