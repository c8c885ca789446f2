import CircuitBreaker from 'opossum';
import type { BreakerStateName } from '../telemetry/telemetry.js';

/** Per-target circuit breaker settings (a subset of opossum's, with our defaults). */
export interface BreakerOptions {
  /** Failure percentage in the rolling window that opens the breaker (default 50). */
  readonly errorThresholdPercentage?: number;
  /** Reported outcomes needed in the window before it may open (default 10). */
  readonly volumeThreshold?: number;
  /** Time open before a half-open probe is admitted, ms (default 10 000). */
  readonly resetTimeout?: number;
  /** Rolling statistics window, ms (default 10 000). */
  readonly rollingCountTimeout?: number;
  /** Buckets in the rolling window (default 10). */
  readonly rollingCountBuckets?: number;
  /** False disables the breaker for the target (it never opens). */
  readonly enabled?: boolean;
}

/** Breaker settings: defaults for every target, overrides by target key. */
export interface BreakerRegistryOptions extends BreakerOptions {
  /** Overrides keyed by {@link OperationDescriptor.target}. */
  readonly targets?: Readonly<Record<string, BreakerOptions>>;
}

/** A breaker state change. */
export interface BreakerStateChange {
  /** The target key, redacted. */
  readonly target: string;
  readonly state: BreakerStateName;
  readonly previous: BreakerStateName;
}

/** What {@link TargetBreaker.admit} decided: pass (closed), the one half-open probe, or reject. */
export const Admission = Object.freeze({ Pass: 0, Probe: 1, Reject: 2 } as const);
/** One of the {@link Admission} values. */
export type Admission = (typeof Admission)[keyof typeof Admission];

// Opossum is used as the state machine (rolling stats, thresholds, reset
// timer), but the guarded attempt never runs inside `fire()`: only the
// pipeline knows whether an outcome is neutral, and opossum's errorFilter
// would count a neutral outcome as a success and close a half-open breaker.
// So the pipeline admits calls itself and reports only outcomes that count:
// successes (emitted as opossum's own fire/success events, no promise) and
// transient failures (a `fire()` whose action throws, so opossum's own
// threshold logic opens the breaker). Neutral outcomes report nothing.
const FAILURE = new Error('transient failure');
function rethrow(error: unknown): never {
  throw error;
}
function ignore(): void {
  // the report promise carries nothing the caller needs
}

/** One target's breaker. */
export class TargetBreaker {
  readonly #cb: CircuitBreaker<[unknown], never>;
  readonly #enabled: boolean;
  #probeTaken = false;
  #state: BreakerStateName = 'closed';

  constructor(readonly target: string, options: BreakerOptions, onChange: (change: BreakerStateChange) => void) {
    this.#cb = new CircuitBreaker(rethrow, {
      name: target,
      errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
      volumeThreshold: options.volumeThreshold ?? 10,
      resetTimeout: options.resetTimeout ?? 10_000,
      rollingCountTimeout: options.rollingCountTimeout ?? 10_000,
      rollingCountBuckets: options.rollingCountBuckets ?? 10,
      enabled: options.enabled ?? true,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    this.#enabled = options.enabled ?? true;
    const transition = (state: BreakerStateName) => () => {
      const previous = this.#state;
      this.#state = state;
      this.#probeTaken = false;
      if (previous !== state) onChange({ target, state, previous });
    };
    this.#cb.on('open', transition('open'));
    this.#cb.on('halfOpen', transition('half_open'));
    this.#cb.on('close', transition('closed'));
  }

  /** The current state. */
  get state(): BreakerStateName {
    return this.#state;
  }

  /** Decides whether a call may go to the target now. */
  admit(): Admission {
    const state = this.#state;
    if (state === 'closed') return Admission.Pass;
    if (state === 'open' || this.#probeTaken) return Admission.Reject;
    this.#probeTaken = true;
    return Admission.Probe;
  }

  /** The target answered. Closes a half-open breaker when this was the probe. */
  success(admission: Admission): void {
    if (admission === Admission.Probe) this.#probeTaken = false;
    // A call admitted while closed that ends after the breaker opened says
    // nothing about the target now; only the probe may close it.
    if (!this.#enabled) return;
    if (this.#state === 'closed' || (admission === Admission.Probe && this.#state === 'half_open')) {
      this.#cb.emit('fire');
      this.#cb.emit('success', undefined, 0);
    }
  }

  /** A transient failure: counts toward opening; re-opens from half-open when this was the probe. */
  failure(admission: Admission): void {
    if (admission === Admission.Probe) this.#probeTaken = false;
    // A disabled opossum breaker runs the action outside its try block: skip it.
    if (!this.#enabled) return;
    if (this.#state === 'closed' || (admission === Admission.Probe && this.#state === 'half_open')) {
      this.#cb.fire(FAILURE).then(ignore, ignore);
    }
  }

  /** A neutral outcome (auth, denial, permanent, stale, abort): frees the probe slot, changes nothing else. */
  neutral(admission: Admission): void {
    if (admission === Admission.Probe) this.#probeTaken = false;
  }

  /** Stops opossum's timers (rolling window, reset timer). */
  shutdown(): void {
    this.#cb.shutdown();
  }
}
