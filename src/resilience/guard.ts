import { context, INVALID_TRACEID, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type MeterProvider, type Span, type SpanOptions, type TracerProvider } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import type { AuditRecord, AuditSink } from '../audit/types.js';
import { isSecureNosqlError, SecureNosqlError } from '../errors/index.js';
import { EventChannel, type Disposable, type Listener } from '../internal/events.js';
import type { Action, Decision, DecisionPoint, DecisionRequest } from '../policy/types.js';
import { ATTR, dbSystemName, SPAN_EVENT } from '../telemetry/attributes.js';
import { redact } from '../telemetry/redact.js';
import { Telemetry, type BreakerStateName, type BreakerStateReader } from '../telemetry/telemetry.js';
import { backoffDelay, resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from './backoff.js';
import { Admission, TargetBreaker, type BreakerRegistryOptions, type BreakerStateChange } from './breaker.js';
import { IsoTime } from './iso-time.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
import type { AttemptContext, Classification, CredentialHook, Guard, GuardedCall, OperationDescriptor } from './types.js';

/** Options of {@link createGuard}. */
export interface GuardOptions {
  /** The calling service's SPIFFE ID: the policy subject and the audit `service`. */
  readonly serviceId: string;
  /** Deployment environment label handed to the decision point. */
  readonly environment?: string;
  /**
   * The policy decision point. Absent means *no policy configured*: every
   * call is allowed and audited as `allow` with rule id `no-policy`. (A
   * configured policy that is missing or invalid is the factory's concern and
   * fails closed there; it never reaches the guard as `undefined`.)
   */
  readonly decisionPoint?: DecisionPoint;
  /** Where decision and outcome records go. */
  readonly audit?: AuditSink;
  /** A shared {@link Telemetry}; when given, the providers below are ignored and `close()` leaves it open. */
  readonly telemetry?: Telemetry;
  /** Tracer provider; defaults to the global `@opentelemetry/api` one. */
  readonly tracerProvider?: TracerProvider;
  /** Meter provider; defaults to the global `@opentelemetry/api` one. */
  readonly meterProvider?: MeterProvider;
  /** Transient-fault retries. */
  readonly retry?: RetryOptions;
  /** Per-target retry budget. */
  readonly budget?: RetryBudgetOptions;
  /** Per-target circuit breakers (defaults plus overrides by target). */
  readonly breaker?: BreakerRegistryOptions;
  /** Source of jitter in [0, 1); defaults to `Math.random` (tests pass a fixed one). */
  readonly random?: () => number;
  /**
   * Backoff sleep; defaults to a timer that an abort or `close()` cancels.
   * A replacement should reject when `signal` aborts.
   */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** Clock, ms since epoch (audit time, budget window); defaults to `Date.now`. */
  readonly now?: () => number;
}

/** Precomputed, redacted facts about one {@link OperationDescriptor}, cached per descriptor object. */
interface OperationInfo {
  readonly spanName: string;
  readonly spanAttributes: Attributes;
  readonly request: DecisionRequest;
  readonly action: Action | 'unknown';
  readonly resource: string;
  readonly resources: readonly string[] | undefined;
  readonly label: string;
}

interface TargetState {
  readonly breaker: TargetBreaker;
  readonly budget: RetryBudget;
  readonly safeTarget: string;
}

/** Counters of one run, filled by the attempt loop. */
interface RunState {
  attempts: number;
  retries: number;
  reason: string | undefined;
}

/** The first attempt's failure, handed from the fast path to the retry loop. */
interface FailedAttempt<C> {
  readonly admission: Admission;
  readonly credential: C;
  readonly error: unknown;
}

interface PendingSleep {
  timer: NodeJS.Timeout;
  reject: (error: Error) => void;
}

const SPAN_OPTIONS: SpanOptions = Object.freeze({ kind: SpanKind.CLIENT });
const ACTION_RANK: Readonly<Record<Action, number>> = { read: 1, write: 2, admin: 3 };
const NO_POLICY: Decision = Object.freeze({ allowed: true, ruleId: 'no-policy', reason: 'no policy configured' });

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Creates the guard pipeline every driver adapter calls. Close it with {@link GuardPipeline.close}. */
export function createGuard(options: GuardOptions): GuardPipeline {
  return new GuardPipeline(options);
}

/**
 * The guard pipeline: one CLIENT span ▸ policy decision + audit ▸ per-target
 * retry budget ▸ circuit breaker ▸ auth-aware retry ▸ attempt ▸ outcome
 * audit + metrics. Adapters supply the attempt, a classifier and a
 * credential hook; the decision table of DESIGN.md §5 lives here only.
 */
export class GuardPipeline implements Guard, BreakerStateReader {
  readonly #serviceId: string;
  readonly #decisionPoint: DecisionPoint | undefined;
  readonly #audit: AuditSink | undefined;
  readonly #telemetry: Telemetry;
  readonly #ownsTelemetry: boolean;
  readonly #telemetryHandle: Disposable;
  readonly #retry: ResolvedRetryOptions;
  readonly #budgetOptions: RetryBudgetOptions;
  readonly #breakerOptions: BreakerRegistryOptions;
  readonly #random: () => number;
  readonly #customSleep: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
  readonly #now: () => number;
  /** True with the default clock: wall time is then derived from the `performance.now()` readings the span timing takes anyway (a clock read costs ~0.3 µs on some VMs). */
  readonly #defaultClock: boolean;
  /** Wall clock minus monotonic clock, re-anchored every second so a stepped system clock is followed within a second. */
  #wallOffset = Date.now() - performance.now();
  readonly #anchorTimer: NodeJS.Timeout | undefined;
  readonly #decisionContext: DecisionRequest['context'];
  readonly #targets = new Map<string, TargetState>();
  readonly #info = new WeakMap<OperationDescriptor, OperationInfo>();
  readonly #sleeps = new Set<PendingSleep>();
  readonly #breakerChanges = new EventChannel<BreakerStateChange>();
  readonly #isoTime = new IsoTime();
  readonly #ruleIds = new Map<string, string>();
  #closed = false;

  constructor(options: GuardOptions) {
    if (typeof options.serviceId !== 'string' || options.serviceId === '') {
      throw new SecureNosqlError('CONFIG_INVALID', 'createGuard: serviceId must be the service SPIFFE ID, e.g. spiffe://prod.example/ns/orders/sa/orders-api.');
    }
    this.#serviceId = options.serviceId;
    this.#decisionPoint = options.decisionPoint;
    this.#audit = options.audit;
    try {
      this.#retry = resolveRetryOptions(options.retry);
      this.#budgetOptions = options.budget ?? {};
      new RetryBudget(this.#budgetOptions); // validates the options once, up front
    } catch (error) {
      throw new SecureNosqlError('CONFIG_INVALID', `createGuard: ${(error as Error).message}.`, { cause: error });
    }
    this.#breakerOptions = options.breaker ?? {};
    this.#random = options.random ?? Math.random;
    this.#customSleep = options.sleep;
    this.#now = options.now ?? Date.now;
    this.#defaultClock = options.now === undefined;
    if (this.#defaultClock) {
      this.#anchorTimer = setInterval(() => {
        this.#wallOffset = Date.now() - performance.now();
      }, 1_000);
      this.#anchorTimer.unref();
    }
    this.#decisionContext = options.environment === undefined ? undefined : Object.freeze({ environment: options.environment });
    this.#ownsTelemetry = options.telemetry === undefined;
    this.#telemetry =
      options.telemetry ??
      new Telemetry({
        ...(options.tracerProvider === undefined ? {} : { tracerProvider: options.tracerProvider }),
        ...(options.meterProvider === undefined ? {} : { meterProvider: options.meterProvider }),
      });
    this.#telemetryHandle = this.#telemetry.observeBreakers(this);
  }

  /** Subscribes to breaker state changes (closed / half_open / open) of every target. */
  onBreakerStateChange(listener: Listener<BreakerStateChange>): Disposable {
    return this.#breakerChanges.on(listener);
  }

  /** The breaker state of `target` (`closed` for a target not seen yet). */
  breakerState(target: string): BreakerStateName {
    return this.#targets.get(target)?.breaker.state ?? 'closed';
  }

  /** Visits every known target's redacted name and breaker state (for the breaker gauge). */
  forEachBreaker(visit: (target: string, state: BreakerStateName) => void): void {
    for (const t of this.#targets.values()) visit(t.safeTarget, t.breaker.state);
  }

  /** Runs one guarded call. Every failure is a SecureNosqlError (see DESIGN.md §5 for the codes). */
  async run<T, C = undefined>(call: GuardedCall<T, C>): Promise<T> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'The guard pipeline was closed; no call can be made through it. Create a new client factory.');
    const op = call.op;
    const info = this.#infoFor(op);
    const start = performance.now();
    const wallStart = this.#wallTime(start);
    const span = this.#telemetry.tracer.startSpan(info.spanName, SPAN_OPTIONS);
    const recording = span.isRecording();
    if (recording) span.setAttributes(info.spanAttributes);
    // Without a tracer the span context is invalid: skip context plumbing entirely.
    const spanContext = span.spanContext();
    const traceId = spanContext.traceId === INVALID_TRACEID ? undefined : spanContext.traceId;
    const traceCtx = traceId === undefined ? undefined : trace.setSpan(context.active(), span);
    const state: RunState = { attempts: 0, retries: 0, reason: undefined };
    let decision: Decision | undefined;
    let target: TargetState | undefined;
    try {
      if (call.signal?.aborted === true) throw this.#aborted(op, call.signal);
      const dp = this.#decisionPoint;
      if (dp === undefined) decision = NO_POLICY;
      else {
        try {
          const pending = dp.decide(info.request, call.signal);
          decision = isPromiseLike(pending) ? await pending : pending;
        } catch {
          decision = { allowed: false, ruleId: undefined, reason: 'the decision point failed (fail closed)' };
        }
      }
      if (recording) {
        span.setAttribute(ATTR.POLICY_DECISION, decision.allowed ? 'allow' : 'deny');
        if (decision.ruleId !== undefined) span.setAttribute(ATTR.POLICY_RULE_ID, this.#safeRuleId(decision.ruleId));
      }
      if (this.#audit !== undefined) this.#writeAudit(this.#record('decision', info, decision, op, traceId, wallStart));
      if (!decision.allowed) throw this.#policyDenied(op, info, decision);
      target = this.#targetFor(op.target);
      target.budget.recordCall(wallStart);
      // Fast path: the first attempt runs here; the retry loop is entered only after a failure.
      const breaker = target.breaker;
      const admission = breaker.admit();
      let result: T;
      if (admission === Admission.Reject) result = await this.#attemptLoop(call, target, state, traceCtx, span, recording, undefined);
      else {
        const hook = call.credential;
        const credential = hook === undefined ? (undefined as C) : await this.#acquire(call, hook, breaker, admission, false, traceCtx);
        state.attempts = 1;
        const ctx: AttemptContext<C> = { attempt: 1, credential, signal: call.signal };
        try {
          result = await (traceCtx === undefined ? call.attempt(ctx) : context.with(traceCtx, call.attempt, call, ctx));
          breaker.success(admission);
        } catch (error) {
          result = await this.#attemptLoop(call, target, state, traceCtx, span, recording, { admission, credential, error });
        }
      }
      this.#finish(span, recording, op, info, decision, target, state, start, traceId, undefined);
      return result;
    } catch (caught) {
      const error = isSecureNosqlError(caught)
        ? caught
        : new SecureNosqlError('UPSTREAM_ERROR', `${info.label}: an unexpected error escaped the driver adapter.`, { cause: caught });
      this.#finish(span, recording, op, info, decision, target, state, start, traceId, error);
      throw error;
    }
  }

  /** Acquires the credential for one attempt (inside the operation span); a failure frees the breaker slot. */
  async #acquire<T, C>(call: GuardedCall<T, C>, hook: CredentialHook<C>, breaker: TargetBreaker, admission: Admission, forceRefresh: boolean, traceCtx: Context | undefined): Promise<C> {
    const signal = call.signal;
    try {
      // `hook` is passed as thisArg, so the method keeps its receiver.
      // eslint-disable-next-line @typescript-eslint/unbound-method
      return await (traceCtx === undefined ? hook.acquire(signal, forceRefresh) : context.with(traceCtx, hook.acquire, hook, signal, forceRefresh));
    } catch (error) {
      breaker.neutral(admission);
      if (signal?.aborted === true) throw this.#aborted(call.op, signal);
      if (isSecureNosqlError(error)) throw error;
      throw new SecureNosqlError('TOKEN_UNAVAILABLE', `${call.op.system} ${call.op.operation}: the credential hook failed to provide a credential.`, { cause: error });
    }
  }

  /**
   * The retry loop, entered only after a first attempt failed (`first`) or
   * when the breaker rejected it, so the success path skips it entirely.
   */
  async #attemptLoop<T, C>(call: GuardedCall<T, C>, target: TargetState, state: RunState, traceCtx: Context | undefined, span: Span, recording: boolean, first: FailedAttempt<C> | undefined): Promise<T> {
    const op = call.op;
    const signal = call.signal;
    const hook = call.credential;
    const breaker = target.breaker;
    let staleRetried = false;
    let forceRefresh = false;
    let transientRetries = 0;
    let lastError: unknown;
    let pending = first;
    for (;;) {
      let admission: Admission;
      let credential: C;
      let error: unknown;
      if (pending !== undefined) {
        ({ admission, credential, error } = pending);
        pending = undefined;
      } else {
        admission = breaker.admit();
        if (admission === Admission.Reject) throw this.#circuitOpen(op, target, state, lastError);
        credential = hook === undefined ? (undefined as C) : await this.#acquire(call, hook, breaker, admission, forceRefresh, traceCtx);
        state.attempts++;
        const ctx: AttemptContext<C> = { attempt: state.attempts, credential, signal };
        try {
          const result = await (traceCtx === undefined ? call.attempt(ctx) : context.with(traceCtx, call.attempt, call, ctx));
          breaker.success(admission);
          return result;
        } catch (caught) {
          error = caught;
        }
      }
      if (signal?.aborted === true) {
        breaker.neutral(admission);
        throw this.#aborted(op, signal);
      }
      if (isSecureNosqlError(error)) {
        breaker.neutral(admission);
        throw error;
      }
      const c = this.#classify(call, error);
      state.reason = c.reason;
      lastError = error;
      switch (c.class) {
        case 'stale_credential': {
          breaker.neutral(admission);
          this.#telemetry.recordAuthFailure(op.system, c.class, c.reason);
          if (staleRetried) throw this.#authRejected(op, target, state, c, error, true);
          staleRetried = true;
          forceRefresh = true;
          if (hook !== undefined) {
            try {
              hook.invalidate(credential);
            } catch {
              // an invalidation hook must not break the call; the forced refresh still happens
            }
          }
          if (recording) span.addEvent(SPAN_EVENT.TOKEN_REFRESH, { [ATTR.ATTEMPT]: state.attempts, [ATTR.FAILURE_REASON]: redact(c.reason) });
          continue;
        }
        case 'auth_rejected':
          breaker.neutral(admission);
          this.#telemetry.recordAuthFailure(op.system, c.class, c.reason);
          throw this.#authRejected(op, target, state, c, error, staleRetried);
        case 'access_denied':
          breaker.neutral(admission);
          this.#telemetry.recordAuthFailure(op.system, c.class, c.reason);
          throw this.#simple('ACCESS_DENIED', op, target, state, c, error, `the store denied this operation for ${this.#serviceId}`);
        case 'transient': {
          breaker.failure(admission);
          const delay = this.#retryDelay(call, target, state, c, error, transientRetries);
          transientRetries++;
          state.retries++;
          forceRefresh = false;
          if (recording) {
            span.addEvent(SPAN_EVENT.RETRY, {
              [ATTR.ATTEMPT]: state.attempts,
              [ATTR.FAILURE_CLASS]: c.class,
              [ATTR.FAILURE_REASON]: redact(c.reason),
              [ATTR.DELAY_MS]: delay,
            });
          }
          await this.#sleep(delay, signal, op);
          continue;
        }
        default:
          breaker.neutral(admission);
          throw this.#simple('UPSTREAM_ERROR', op, target, state, c, error, 'the target rejected the request as invalid (permanent; not retried)');
      }
    }
  }

  /** Decides whether a transient failure may be retried; returns the delay or throws UPSTREAM_UNAVAILABLE. */
  #retryDelay<T, C>(call: GuardedCall<T, C>, target: TargetState, state: RunState, c: Classification, error: unknown, retriesSoFar: number): number {
    const op = call.op;
    let why: string | undefined;
    if (retriesSoFar + 1 >= this.#retry.maxAttempts) why = `retries exhausted after ${state.attempts} attempt(s)`;
    else if (c.ambiguous === true && !op.idempotent && call.retryNonIdempotent !== true) {
      why = 'not retried: the operation is not idempotent and the request may have been applied (pass retryNonIdempotent to opt in)';
    } else if (c.retryAfterMs !== undefined && c.retryAfterMs > this.#retry.maxRetryAfterMs) {
      why = `not retried: the target asked to wait ${Math.ceil(c.retryAfterMs / 1000)} s, longer than retry.maxRetryAfterMs`;
    } else if (!target.budget.tryRetry(this.#now())) why = 'not retried: the retry budget for this target is spent (the target looks overloaded)';
    if (why !== undefined) throw this.#simple('UPSTREAM_UNAVAILABLE', op, target, state, c, error, `transient failure, ${why}`);
    return backoffDelay(retriesSoFar, this.#retry, this.#random, c.retryAfterMs);
  }

  #classify<T, C>(call: GuardedCall<T, C>, error: unknown): Classification {
    try {
      const c = call.classify(error);
      if (c !== null && typeof c === 'object') return c;
    } catch {
      // classifiers must not throw; treat a broken one as permanent so nothing is retried blindly
    }
    return { class: 'permanent', reason: 'unclassified' };
  }

  async #sleep(ms: number, signal: AbortSignal | undefined, op: OperationDescriptor): Promise<void> {
    if (this.#customSleep !== undefined) {
      await this.#customSleep(ms, signal);
      if (signal?.aborted === true) throw this.#aborted(op, signal);
      if (this.#closed) throw this.#closedDuringRetry();
      return;
    }
    if (ms <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(entry.timer);
        this.#sleeps.delete(entry);
        reject(this.#aborted(op, signal));
      };
      const entry: PendingSleep = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms),
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#sleeps.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #finish(
    span: Span,
    recording: boolean,
    op: OperationDescriptor,
    info: OperationInfo,
    decision: Decision | undefined,
    target: TargetState | undefined,
    state: RunState,
    start: number,
    traceId: string | undefined,
    error: SecureNosqlError | undefined,
  ): void {
    const end = performance.now();
    const seconds = (end - start) / 1000;
    const outcome = error === undefined ? 'ok' : error.code;
    this.#telemetry.recordOperation(op.system, op.operation, outcome, seconds);
    if (recording) {
      span.setAttribute(ATTR.RETRY_COUNT, state.retries);
      if (target !== undefined) span.setAttribute(ATTR.BREAKER_STATE, target.breaker.state);
      if (error !== undefined) {
        span.setAttribute(ATTR.ERROR_TYPE, error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: redact(error.message) });
      }
    }
    span.end();
    if (this.#audit !== undefined && decision !== undefined) {
      const record = this.#record('outcome', info, decision, op, traceId, this.#wallTime(end));
      record.outcome = outcome;
      record.durationMs = Math.round(seconds * 1e6) / 1e3;
      record.attempts = state.attempts;
      if (error !== undefined) record.correlationId = error.correlationId;
      if (state.reason !== undefined && error !== undefined) record.reason = redact(state.reason);
      this.#writeAudit(record);
    }
  }

  /** Wall-clock ms for a `performance.now()` reading (or the injected clock in tests). */
  #wallTime(perfNow: number): number {
    return this.#defaultClock ? this.#wallOffset + perfNow : this.#now();
  }

  #record(kind: 'decision' | 'outcome', info: OperationInfo, decision: Decision, op: OperationDescriptor, traceId: string | undefined, timeMs: number): Mutable<AuditRecord> {
    const record: Mutable<AuditRecord> = {
      time: this.#isoTime.format(timeMs),
      kind,
      service: this.#serviceId,
      system: op.system,
      operation: info.request.operation,
      action: info.action,
      resource: info.resource,
      decision: decision.allowed ? 'allow' : 'deny',
    };
    if (info.resources !== undefined) record.resources = info.resources;
    if (decision.ruleId !== undefined) record.ruleId = this.#safeRuleId(decision.ruleId);
    if (traceId !== undefined) record.traceId = traceId;
    if (kind === 'decision' && !decision.allowed) record.reason = redact(decision.reason);
    return record;
  }

  /** Rule ids come from a bounded policy, so their redacted form is memoised (redaction is regex work). */
  #safeRuleId(ruleId: string): string {
    let safe = this.#ruleIds.get(ruleId);
    if (safe === undefined) {
      safe = redact(ruleId);
      if (this.#ruleIds.size >= 1024) this.#ruleIds.clear();
      this.#ruleIds.set(ruleId, safe);
    }
    return safe;
  }

  #writeAudit(record: AuditRecord): void {
    try {
      this.#audit?.write(record);
    } catch {
      // AuditSink.write must not throw; a broken sink must not break the call either
    }
  }

  #infoFor(op: OperationDescriptor): OperationInfo {
    let info = this.#info.get(op);
    if (info === undefined) {
      info = describeOperation(op, this.#serviceId, this.#decisionContext);
      this.#info.set(op, info);
    }
    return info;
  }

  #targetFor(key: string): TargetState {
    let state = this.#targets.get(key);
    if (state === undefined) {
      const safeTarget = redact(key);
      const overrides = this.#breakerOptions.targets?.[key];
      const breaker = new TargetBreaker(safeTarget, { ...this.#breakerOptions, ...overrides }, (change) => {
        this.#telemetry.recordBreakerTransition(change.target, change.state);
        this.#breakerChanges.emit(change);
      });
      state = { breaker, budget: new RetryBudget(this.#budgetOptions), safeTarget };
      this.#targets.set(key, state);
    }
    return state;
  }

  #policyDenied(op: OperationDescriptor, info: OperationInfo, decision: Decision): SecureNosqlError {
    const denied = decision.deniedAccess;
    const action = denied?.action ?? info.action;
    const resource = denied === undefined ? info.resource : redact(denied.resource);
    return new SecureNosqlError(
      'POLICY_DENIED',
      `Policy denied ${action} on ${resource} for ${this.#serviceId} (${info.label}): ${redact(decision.reason)}. Nothing was sent.`,
      {
        remediation: `If ${this.#serviceId} should be allowed to ${action} ${resource}, add a policy rule granting '${action}' on that resource to this service; otherwise change the operation.`,
        details: { service: this.#serviceId, action, resource, ruleId: decision.ruleId === undefined ? undefined : this.#safeRuleId(decision.ruleId), system: op.system, operation: info.request.operation },
      },
    );
  }

  #authRejected(op: OperationDescriptor, target: TargetState, state: RunState, c: Classification, cause: unknown, afterRefresh: boolean): SecureNosqlError {
    const what = afterRefresh ? 'the store rejected the credential again after a fresh one was fetched' : 'the store rejected the credential';
    return this.#simple('AUTH_REJECTED', op, target, state, c, cause, `${what} (definitive; not retried)`);
  }

  #simple(code: 'AUTH_REJECTED' | 'ACCESS_DENIED' | 'UPSTREAM_ERROR' | 'UPSTREAM_UNAVAILABLE', op: OperationDescriptor, target: TargetState, state: RunState, c: Classification, cause: unknown, what: string): SecureNosqlError {
    // Built from the classification, never from the driver's message, which may hold secrets.
    const reason = redact(c.reason);
    const info = this.#infoFor(op);
    return new SecureNosqlError(code, `${info.label} on ${target.safeTarget} failed: ${what} [${reason}].`, {
      cause,
      details: {
        target: target.safeTarget,
        system: op.system,
        operation: info.request.operation,
        resource: info.resource,
        reason,
        class: c.class,
        attempts: state.attempts,
        retries: state.retries,
        ...(op.audience === undefined ? {} : { audience: redact(op.audience) }),
      },
    });
  }

  #circuitOpen(op: OperationDescriptor, target: TargetState, state: RunState, lastError: unknown): SecureNosqlError {
    const info = this.#infoFor(op);
    return new SecureNosqlError('CIRCUIT_OPEN', `${info.label}: the circuit breaker for ${target.safeTarget} is ${target.breaker.state === 'open' ? 'open' : 'half-open with its probe in flight'} after repeated transient failures; the call was not sent.`, {
      // When the breaker opened between this call's retries, the last driver error explains why.
      ...(lastError === undefined ? {} : { cause: lastError }),
      details: { target: target.safeTarget, attempts: state.attempts, retries: state.retries, state: target.breaker.state },
    });
  }

  #aborted(op: OperationDescriptor, signal: AbortSignal | undefined): SecureNosqlError {
    const info = this.#infoFor(op);
    return new SecureNosqlError('ABORTED', `${info.label} was aborted by the caller's AbortSignal.`, { cause: signal?.reason });
  }

  #closedDuringRetry(): SecureNosqlError {
    return new SecureNosqlError('CLOSED', 'The guard pipeline was closed while the call waited to retry.');
  }

  /** Shuts down every breaker, cancels pending backoff sleeps (they reject with CLOSED) and detaches telemetry. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#anchorTimer);
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.reject(this.#closedDuringRetry());
    }
    this.#sleeps.clear();
    for (const t of this.#targets.values()) t.breaker.shutdown();
    this.#telemetryHandle.dispose();
    if (this.#ownsTelemetry) this.#telemetry.close();
    this.#breakerChanges.clear();
    return Promise.resolve();
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function describeOperation(op: OperationDescriptor, serviceId: string, decisionContext: DecisionRequest['context']): OperationInfo {
  const operation = redact(op.operation);
  const collection = op.collection === undefined ? undefined : redact(op.collection);
  const route = op.route === undefined ? undefined : redact(op.route);
  const spanName =
    op.spanName !== undefined ? redact(op.spanName) : op.system === 'http' ? (route === undefined ? operation : `${operation} ${route}`) : collection === undefined ? operation : `${operation} ${collection}`;
  const attributes: Attributes = {};
  const dbSystem = dbSystemName(op.system);
  if (dbSystem !== undefined) {
    attributes[ATTR.DB_SYSTEM_NAME] = dbSystem;
    attributes[ATTR.DB_OPERATION_NAME] = operation;
    if (op.namespace !== undefined) attributes[ATTR.DB_NAMESPACE] = redact(op.namespace);
    if (collection !== undefined) attributes[ATTR.DB_COLLECTION_NAME] = collection;
  } else {
    attributes[ATTR.HTTP_REQUEST_METHOD] = operation;
    if (route !== undefined) attributes[ATTR.URL_TEMPLATE] = route;
  }
  if (op.serverAddress !== undefined) attributes[ATTR.SERVER_ADDRESS] = redact(op.serverAddress);
  if (op.serverPort !== undefined) attributes[ATTR.SERVER_PORT] = op.serverPort;
  if (op.audience !== undefined) attributes[ATTR.AUDIENCE] = redact(op.audience);
  let primary: { resource: string; action: Action } | undefined;
  for (const a of op.accesses) if (primary === undefined || ACTION_RANK[a.action] > ACTION_RANK[primary.action]) primary = a;
  const request: DecisionRequest = {
    subject: serviceId,
    accesses: op.accesses,
    operation: op.operation,
    system: op.system,
    ...(decisionContext === undefined ? {} : { context: decisionContext }),
  };
  return {
    spanName,
    spanAttributes: Object.freeze(attributes),
    request,
    action: primary?.action ?? 'unknown',
    resource: primary === undefined ? 'unknown' : redact(primary.resource),
    resources: op.accesses.length > 1 ? Object.freeze(op.accesses.map((a) => redact(a.resource))) : undefined,
    label: `${op.system} ${operation}`,
  };
}
