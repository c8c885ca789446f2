import { SecureNosqlError } from '../errors/index.js';

/** Bounds of the issuer client's retry loop. */
export interface RetryOptions {
  /** Total attempts, first included. Default 4. */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff, ms. Default 100. */
  readonly baseDelayMs?: number;
  /** Cap of one backoff delay (and of an honoured `Retry-After`), ms. Default 5,000. */
  readonly maxDelayMs?: number;
}

/** "Full jitter": a uniform delay in [0, min(cap, base·2^(attempt-1))). */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(Math.random() * ceiling);
}

/** The error a caller's abort turns into. */
export function abortedError(signal: AbortSignal): SecureNosqlError {
  return new SecureNosqlError('ABORTED', 'The token request was aborted by the caller.', { cause: signal.reason });
}

/** Waits `ms` (unref'd timer), rejecting with ABORTED when `signal` fires. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortedError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
