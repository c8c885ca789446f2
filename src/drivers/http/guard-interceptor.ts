import type { Duplex } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CredentialHook, Guard } from '../../resilience/types.js';
import type { AccessToken } from '../../tokens/types.js';
import { canonicalizePath } from './canonical-path.js';
import { classifyHttpFailure, HttpStatusError, isGuardedStatus } from './classify.js';
import { SecureNosqlError } from '../../errors/index.js';
import { normalizeHeaders } from './headers.js';
import { failDispatch, kCredential, kRoute, type SecureDispatchOptions } from './interceptors.js';
import type { OperationFactory } from './operation.js';

/** What the guard interceptor needs from its client. */
export interface GuardInterceptorOptions {
  readonly guard: Guard;
  readonly operations: OperationFactory;
  readonly credential: CredentialHook<AccessToken>;
  /** Client-wide opt-in to retry non-idempotent requests after ambiguous failures. */
  readonly retryNonIdempotent: boolean;
  /** The origin's `host[:port]`, lower-case: the only `Host` header a caller may set. */
  readonly host: string;
}

// Error bodies are read to the end so the socket is reused; past this size the socket is dropped instead.
const MAX_DRAINED_BYTES = 64 * 1024;

/** True for bodies that can be sent again unchanged: none, string or bytes (not streams, iterables or form data). */
export function isReplayableBody(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * The controller the caller's handler holds for the whole guarded request.
 * Each attempt has its own undici controller; this one forwards to the
 * current attempt, keeps a pause across attempts, and turns the caller's
 * abort into an abort of the guard's signal.
 */
class GuardedController implements Dispatcher.DispatchController {
  readonly #abortController = new AbortController();
  #target: Dispatcher.DispatchController | undefined;
  #paused = false;
  #reason: Error | null = null;

  get signal(): AbortSignal {
    return this.#abortController.signal;
  }

  set target(target: Dispatcher.DispatchController) {
    this.#target = target;
    if (this.#reason !== null) target.abort(this.#reason);
    else if (this.#paused) target.pause();
  }

  get aborted(): boolean {
    return this.#reason !== null;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  get rawHeaders(): NonNullable<Dispatcher.DispatchController['rawHeaders']> | null {
    return this.#target?.rawHeaders ?? null;
  }

  get rawTrailers(): NonNullable<Dispatcher.DispatchController['rawTrailers']> | null {
    return this.#target?.rawTrailers ?? null;
  }

  abort(reason: Error): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#abortController.abort(reason);
    this.#target?.abort(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }
}

/**
 * The interceptor that puts every request of the dispatcher (`client.request`,
 * `undici.request`, `stream`, `fetch`) through the shared guard: path
 * canonicalisation, one span, policy and audit, breaker, retry budget and the
 * auth-aware retry of DESIGN.md §5. Each attempt is a fresh dispatch with the
 * credential the guard acquired. Statuses the guard must act on (401, 403,
 * 429, 502–504) are read to the end and become the attempt's failure; any
 * other response is handed to the caller as it streams in. The caller sees a
 * guard failure as the request's error (a SecureNosqlError).
 */
export function guardInterceptor(options: GuardInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const { guard, operations, credential } = options;
  return (dispatch) => (opts, handler) => {
    const secureOpts = opts as SecureDispatchOptions;
    let target;
    try {
      target = canonicalizePath(opts.path);
    } catch (error) {
      failDispatch(handler, error as Error);
      return true;
    }
    const headers = normalizeHeaders(opts.headers);
    const host = headers.host;
    // Another Host header would reach another virtual host than the one policy judged.
    if (host !== undefined && (Array.isArray(host) || host.toLowerCase() !== options.host)) {
      failDispatch(
        handler,
        new SecureNosqlError('POLICY_DENIED', `HTTP request refused before sending: its Host header names another host than the client's origin (${options.host}). Nothing was sent.`, {
          remediation: 'Leave the Host header out; create a client for the other origin if it should be reached.',
          details: { reason: 'host_header_mismatch' },
        }),
      );
      return true;
    }
    const method = opts.method.toUpperCase();
    const replayable = isReplayableBody(opts.body);
    const op = operations.describe(method, target.path, secureOpts[kRoute], replayable);
    const controller = new GuardedController();
    handler.onRequestStart?.(controller, {});
    let forwarding = false;
    const attemptOpts = { ...opts, method, path: target.pathAndQuery, headers };

    const attempt = (credentialValue: AccessToken): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        let failure: HttpStatusError | undefined;
        let drained = 0;
        const attemptHandler: Dispatcher.DispatchHandler = {
          onRequestStart(c) {
            controller.target = c;
          },
          onRequestUpgrade(_c, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex) {
            forwarding = true;
            resolve();
            handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
          },
          onResponseStart(_c, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string) {
            // 1xx informational answers precede the real one: pass them on, decide on the final status.
            if (statusCode < 200) {
              handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
              return;
            }
            if (isGuardedStatus(statusCode)) {
              failure = new HttpStatusError(statusCode, headers);
              return;
            }
            forwarding = true;
            resolve();
            handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
          },
          onResponseData(c, chunk: Buffer) {
            if (failure === undefined) {
              handler.onResponseData?.(controller, chunk);
              return;
            }
            drained += chunk.length;
            if (drained > MAX_DRAINED_BYTES) c.abort(failure);
          },
          onResponseEnd(_c, trailers: IncomingHttpHeaders) {
            if (failure === undefined) handler.onResponseEnd?.(controller, trailers);
            else reject(failure);
          },
          onResponseError(_c, error: Error) {
            if (forwarding) handler.onResponseError?.(controller, error);
            else reject(failure ?? error);
          },
        };
        dispatch({ ...attemptOpts, [kCredential]: credentialValue } as Dispatcher.DispatchOptions, attemptHandler);
      });

    guard
      .run<undefined, AccessToken>({
        op,
        attempt: async (ctx) => {
          await attempt(ctx.credential);
          return undefined;
        },
        classify: (error) => classifyHttpFailure(error, replayable),
        credential,
        signal: controller.signal,
        retryNonIdempotent: replayable && (options.retryNonIdempotent || opts.idempotent === true),
      })
      .catch((error: unknown) => {
        // Once the response is streaming to the caller, errors travel through it instead.
        if (forwarding) return;
        handler.onResponseError?.(controller, error as Error);
      });
    return true;
  };
}

