import {
  metrics,
  trace,
  ValueType,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type ObservableGauge,
  type ObservableResult,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { CertificateEvent, CertificateSource } from '../certificates/types.js';
import type { Disposable } from '../internal/events.js';
import type { TokenCacheObserver, TokenCacheResult } from '../tokens/types.js';
import { ATTR, INSTRUMENTATION_SCOPE, METRIC, SPAN_EVENT } from './attributes.js';
import { redact } from './redact.js';

/** Where telemetry goes. Both default to the global `@opentelemetry/api` providers (no-op without an SDK). */
export interface TelemetryOptions {
  /** Tracer provider; defaults to `trace.getTracerProvider()`. */
  readonly tracerProvider?: TracerProvider;
  /**
   * Meter provider; defaults to `metrics.getMeterProvider()`. Unlike traces,
   * the global metrics API has no proxy: register the SDK before creating
   * the factory, or pass the provider here.
   */
  readonly meterProvider?: MeterProvider;
  /** Clock for gauges, ms since epoch; defaults to `Date.now`. */
  readonly now?: () => number;
}

/** Audiences whose token-cache metric attributes are memoised before the memo is reset. */
const MAX_MEMOIZED_AUDIENCES = 1_024;

/** Breaker states as reported to telemetry. */
export type BreakerStateName = 'closed' | 'half_open' | 'open';

/** Gauge value of each breaker state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerStateName, number>> = Object.freeze({ closed: 0, half_open: 1, open: 2 });

/** Something whose breaker states can be observed (the guard pipeline). */
export interface BreakerStateReader {
  /** Calls `visit` once per known target with its (redacted) name and state. */
  forEachBreaker(visit: (target: string, state: BreakerStateName) => void): void;
}

/**
 * The tracer, the meter and every instrument of secure-nosql, created once
 * per factory. Records nothing and costs little when no SDK is registered.
 * Every string that reaches an attribute passes through {@link redact}.
 */
export class Telemetry {
  /** The tracer spans are started on. */
  readonly tracer: Tracer;
  /** The meter the instruments belong to. */
  readonly meter: Meter;
  /** `secure_nosql.operation.duration`, seconds. */
  readonly operationDuration: Histogram;
  /** `secure_nosql.auth.failures`, by class and reason. */
  readonly authFailures: Counter;
  /** `secure_nosql.breaker.transitions`, by target and new state. */
  readonly breakerTransitions: Counter;
  /** `secure_nosql.token.cache.results`, by audience and result. */
  readonly tokenCacheResults: Counter;
  /** `secure_nosql.token.fetch.duration`, seconds. */
  readonly tokenFetchDuration: Histogram;
  /** `secure_nosql.certificate.events`, by type. */
  readonly certificateEvents: Counter;
  readonly #breakerGauge: ObservableGauge;
  readonly #expiryGauge: ObservableGauge;
  readonly #now: () => number;
  readonly #breakerReaders = new Set<BreakerStateReader>();
  readonly #certificateSources = new Set<CertificateSource>();
  readonly #disposables = new Set<Disposable>();
  #closed = false;

  constructor(options: TelemetryOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
    this.meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
    this.operationDuration = this.meter.createHistogram(METRIC.OPERATION_DURATION, {
      description: 'Duration of guarded operations, retries included.',
      unit: 's',
    });
    this.authFailures = this.meter.createCounter(METRIC.AUTH_FAILURES, {
      description: 'Authentication and authorization failures returned by stores, by reason.',
      valueType: ValueType.INT,
    });
    this.breakerTransitions = this.meter.createCounter(METRIC.BREAKER_TRANSITIONS, {
      description: 'Circuit breaker state changes, by target and new state.',
      valueType: ValueType.INT,
    });
    this.tokenCacheResults = this.meter.createCounter(METRIC.TOKEN_CACHE_RESULTS, {
      description: 'Token cache lookups, by result.',
      valueType: ValueType.INT,
    });
    this.tokenFetchDuration = this.meter.createHistogram(METRIC.TOKEN_FETCH_DURATION, {
      description: 'Duration of token fetches from the issuer.',
      unit: 's',
    });
    this.certificateEvents = this.meter.createCounter(METRIC.CERTIFICATE_EVENTS, {
      description: 'Certificate rotations, rejections and expiry warnings.',
      valueType: ValueType.INT,
    });
    this.#breakerGauge = this.meter.createObservableGauge(METRIC.BREAKER_STATE, {
      description: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.',
      valueType: ValueType.INT,
    });
    this.#expiryGauge = this.meter.createObservableGauge(METRIC.CERTIFICATE_SECONDS_TO_EXPIRY, {
      description: 'Seconds until the current workload certificate expires.',
      unit: 's',
    });
    this.#breakerGauge.addCallback(this.#observeBreakers);
    this.#expiryGauge.addCallback(this.#observeExpiry);
  }

  readonly #observeBreakers = (result: ObservableResult): void => {
    for (const reader of this.#breakerReaders) {
      reader.forEachBreaker((target, state) => {
        result.observe(BREAKER_STATE_VALUE[state], { [ATTR.TARGET]: target, [ATTR.BREAKER_STATE]: state });
      });
    }
  };

  readonly #observeExpiry = (result: ObservableResult): void => {
    for (const source of this.#certificateSources) {
      let current;
      try {
        current = source.current();
      } catch {
        continue; // a closed source has nothing to report
      }
      const seconds = (current.notAfter.getTime() - this.#now()) / 1000;
      result.observe(seconds, current.spiffeId === undefined ? {} : { 'secure_nosql.spiffe_id': redact(current.spiffeId) });
    }
  };

  /** Reports the breaker states of `reader` through the `secure_nosql.breaker.state` gauge until disposed. */
  observeBreakers(reader: BreakerStateReader): Disposable {
    this.#breakerReaders.add(reader);
    return { dispose: () => this.#breakerReaders.delete(reader) };
  }

  /** Counts a breaker state change. `target` must already be redacted. */
  recordBreakerTransition(target: string, state: BreakerStateName): void {
    this.breakerTransitions.add(1, { [ATTR.TARGET]: target, [ATTR.BREAKER_STATE]: state });
  }

  /** Counts an authentication/authorization failure returned by a store. */
  recordAuthFailure(system: string, failureClass: string, reason: string): void {
    this.authFailures.add(1, { [ATTR.SYSTEM]: system, [ATTR.FAILURE_CLASS]: failureClass, [ATTR.FAILURE_REASON]: redact(reason) });
  }

  /** Records one operation's duration (seconds) by system, operation and outcome (`ok` or an error code). */
  recordOperation(system: string, operation: string, outcome: string, seconds: number): void {
    this.operationDuration.record(seconds, { [ATTR.SYSTEM]: system, [ATTR.OPERATION]: operation, [ATTR.OUTCOME]: outcome });
  }

  /**
   * A {@link TokenCacheObserver} for the token cache: counts cache results
   * and fetch durations, and marks the active span (the guarded operation
   * the lookup happens in, when a context manager is registered) with
   * `secure_nosql.token_cache` and a `token.refresh` event.
   */
  tokenObserver(): TokenCacheObserver {
    // A cache hit is on every guarded call: redacting the audience and building
    // the attribute object once per (audience, result) keeps the hit cheap.
    const attributeCache = new Map<string, Partial<Record<TokenCacheResult, Attributes>>>();
    const attributesFor = (audience: string, result: TokenCacheResult): Attributes => {
      let byResult = attributeCache.get(audience);
      if (byResult === undefined) {
        if (attributeCache.size >= MAX_MEMOIZED_AUDIENCES) attributeCache.clear();
        byResult = {};
        attributeCache.set(audience, byResult);
      }
      return (byResult[result] ??= Object.freeze({ [ATTR.AUDIENCE]: redact(audience), [ATTR.TOKEN_RESULT]: result }));
    };
    return {
      cacheResult: (audience: string, result: TokenCacheResult): void => {
        this.tokenCacheResults.add(1, attributesFor(audience, result));
        const span = trace.getActiveSpan();
        if (span !== undefined && span.isRecording()) span.setAttribute(ATTR.TOKEN_CACHE, result);
      },
      fetched: (audience: string, durationMs: number, outcome: string): void => {
        const attributes: Attributes = { [ATTR.AUDIENCE]: redact(audience), [ATTR.OUTCOME]: redact(outcome) };
        this.tokenFetchDuration.record(durationMs / 1000, attributes);
        const span = trace.getActiveSpan();
        if (span !== undefined && span.isRecording()) span.addEvent(SPAN_EVENT.TOKEN_REFRESH, { ...attributes, 'secure_nosql.duration_ms': durationMs });
      },
    };
  }

  /**
   * Reports `source`'s seconds to expiry through the gauge and counts its
   * events (rotation, rejection, expiry warning) until disposed or closed.
   * A rotation also becomes a `certificate.rotation` event on the active span.
   */
  observeCertificates(source: CertificateSource): Disposable {
    this.#certificateSources.add(source);
    const subscription = source.on((event: CertificateEvent) => {
      this.certificateEvents.add(1, { [ATTR.CERTIFICATE_EVENT]: event.type });
      if (event.type === 'rotated') {
        const span = trace.getActiveSpan();
        if (span !== undefined && span.isRecording()) {
          span.addEvent(SPAN_EVENT.CERTIFICATE_ROTATION, { 'secure_nosql.certificate.generation': event.current.generation });
        }
      }
    });
    const handle: Disposable = {
      dispose: () => {
        subscription.dispose();
        this.#certificateSources.delete(source);
        this.#disposables.delete(handle);
      },
    };
    this.#disposables.add(handle);
    return handle;
  }

  /** Detaches every observed source and gauge callback. Instruments already handed out become inert for gauges. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of [...this.#disposables]) d.dispose();
    this.#breakerReaders.clear();
    this.#breakerGauge.removeCallback(this.#observeBreakers);
    this.#expiryGauge.removeCallback(this.#observeExpiry);
  }
}
