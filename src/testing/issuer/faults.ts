import type { IssuerEndpoint, IssuerFault } from './types.js';

/** Fault-injection state of the mock issuer. */
export class FaultPlan {
  readonly #queue: { fault: IssuerFault; remaining: number }[] = [];
  readonly #delays = new Map<IssuerEndpoint | '*', number>();
  readonly #hanging = new Set<IssuerEndpoint | '*'>();
  /** Seconds added to the issuer's clock. */
  skewSeconds = 0;

  /** Queues `count` failures. */
  failNext(count: number, fault: IssuerFault): void {
    if (count > 0) this.#queue.push({ fault, remaining: count });
  }

  /** Takes the next queued failure for `endpoint`, if any. */
  take(endpoint: IssuerEndpoint): IssuerFault | undefined {
    const index = this.#queue.findIndex((q) => (q.fault.endpoint ?? 'token') === endpoint);
    if (index < 0) return undefined;
    const item = this.#queue[index];
    if (item === undefined) return undefined;
    item.remaining--;
    if (item.remaining <= 0) this.#queue.splice(index, 1);
    return item.fault;
  }

  /** Sets a fixed delay before answering (0 clears). */
  delay(ms: number, endpoint: IssuerEndpoint | '*'): void {
    if (ms > 0) this.#delays.set(endpoint, ms);
    else this.#delays.delete(endpoint);
  }

  delayFor(endpoint: IssuerEndpoint): number {
    return this.#delays.get(endpoint) ?? this.#delays.get('*') ?? 0;
  }

  hang(endpoint: IssuerEndpoint | '*'): void {
    this.#hanging.add(endpoint);
  }

  isHanging(endpoint: IssuerEndpoint): boolean {
    return this.#hanging.has(endpoint) || this.#hanging.has('*');
  }

  /** Clears hangs, delays and queued failures (not the clock skew). */
  reset(): void {
    this.#queue.length = 0;
    this.#delays.clear();
    this.#hanging.clear();
  }

  /** Issuer clock, ms. */
  now(): number {
    return Date.now() + this.skewSeconds * 1000;
  }
}
