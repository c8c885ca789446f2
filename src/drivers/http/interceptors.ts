import type { Dispatcher } from 'undici';
import { SecureNosqlError } from '../../errors/index.js';
import type { AccessToken } from '../../tokens/types.js';
import { normalizeHeaders } from './headers.js';
import { originOf } from './origin.js';

/**
 * Where the guard interceptor hands the attempt's credential to the bearer
 * interceptor. A symbol key: undici's request builder ignores it, so the
 * token goes nowhere but the `Authorization` header.
 */
export const kCredential: unique symbol = Symbol('secure-nosql.http.credential');

/** Where `client.request()` hands its span route to the guard interceptor. */
export const kRoute: unique symbol = Symbol('secure-nosql.http.route');

/** Dispatch options as they travel through this client's interceptors. */
export type SecureDispatchOptions = Dispatcher.DispatchOptions & {
  [kCredential]?: AccessToken;
  [kRoute]?: string;
};

/** A do-nothing controller for handlers that fail before any attempt started. */
export class DetachedController implements Dispatcher.DispatchController {
  #aborted = false;
  #reason: Error | null = null;
  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return false;
  }
  get reason(): Error | null {
    return this.#reason;
  }
  abort(reason: Error): void {
    this.#aborted = true;
    this.#reason = reason;
  }
  pause(): void {
    // nothing is flowing
  }
  resume(): void {
    // nothing is flowing
  }
}

/** Fails a dispatch without touching the network (asynchronously, like undici does). */
export function failDispatch(handler: Dispatcher.DispatchHandler, error: Error): void {
  const controller = new DetachedController();
  queueMicrotask(() => {
    handler.onRequestStart?.(controller, {});
    handler.onResponseError?.(controller, error);
  });
}

/**
 * Outermost interceptor: the dispatcher serves its one configured origin and
 * refuses every other one before anything else runs, so neither the token nor
 * the client certificate is ever offered elsewhere (a caller's direct request,
 * or a redirect followed by `fetch` or a redirect interceptor).
 */
export function originLockInterceptor(origin: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const requested = opts.origin === origin ? origin : originOf(opts.origin);
    if (requested !== origin) {
      failDispatch(
        handler,
        new SecureNosqlError('CONFIG_INVALID', `This secure HTTP client is bound to ${origin}; a request to ${requested ?? 'an unknown origin'} was refused without connecting (the token and client certificate are never offered to another origin, and redirects are not followed across origins).`, {
          remediation: 'Create a separate secure.http({ origin, audience }) client for that origin, with its own audience.',
          details: { origin, requested },
        }),
      );
      return true;
    }
    return dispatch(opts, handler);
  };
}

/**
 * Innermost interceptor: sets `Authorization: Bearer <token>` from the
 * credential the guard acquired for this attempt, only for the configured
 * origin. Any caller-supplied `Authorization` is dropped, so what reaches the
 * wire is exactly the token the guard can invalidate and refresh.
 */
export function bearerTokenInterceptor(origin: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    // The route was for the guard's span; neither symbol travels further.
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { [kCredential]: token, [kRoute]: route, ...rest } = opts as SecureDispatchOptions;
    const headers = normalizeHeaders(rest.headers);
    delete headers.authorization;
    if (token !== undefined && (rest.origin === origin || originOf(rest.origin) === origin)) headers.authorization = `Bearer ${token.value}`;
    return dispatch({ ...rest, headers }, handler);
  };
}
