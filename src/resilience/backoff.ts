/** Transient-fault retry settings. */
export interface RetryOptions {
  /** Attempts for transient faults, first included (default 3). The one stale-credential retry is extra. */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff, ms (default 50). */
  readonly baseDelayMs?: number;
  /** Cap of the exponential backoff, ms (default 2000). */
  readonly maxDelayMs?: number;
  /**
   * Longest server-requested `Retry-After` the pipeline waits for, ms
   * (default 30 000). A longer one is not shortened (that would ignore the
   * server): the call fails with `UPSTREAM_UNAVAILABLE` at once instead.
   */
  readonly maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with defaults applied. */
export interface ResolvedRetryOptions {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
}

/** Applies defaults and checks ranges. */
export function resolveRetryOptions(options: RetryOptions | undefined): ResolvedRetryOptions {
  const resolved = {
    maxAttempts: options?.maxAttempts ?? 3,
    baseDelayMs: options?.baseDelayMs ?? 50,
    maxDelayMs: options?.maxDelayMs ?? 2000,
    maxRetryAfterMs: options?.maxRetryAfterMs ?? 30_000,
  };
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) throw new RangeError('retry.maxAttempts must be an integer ≥ 1');
  for (const key of ['baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) throw new RangeError(`retry.${key} must be a finite number ≥ 0`);
  }
  return resolved;
}

/**
 * Full-jitter exponential backoff: `random() * min(max, base * 2^retry)`,
 * where `retry` is 0 for the first retry. A server-requested delay wins when
 * it is longer.
 */
export function backoffDelay(retry: number, options: ResolvedRetryOptions, random: () => number, retryAfterMs: number | undefined): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}
