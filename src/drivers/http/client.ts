import { inspect } from 'node:util';
import { Agent, type Dispatcher } from 'undici';
import type { ServerVerification } from '../../certificates/types.js';
import { SecureNosqlError } from '../../errors/index.js';
import type { CredentialHook } from '../../resilience/types.js';
import type { AccessToken, GetTokenOptions } from '../../tokens/types.js';
import type { DriverContext } from '../types.js';
import { createMtlsConnector } from './connector.js';
import { guardInterceptor } from './guard-interceptor.js';
import { bearerTokenInterceptor, kRoute, originLockInterceptor, type SecureDispatchOptions } from './interceptors.js';
import { OperationFactory } from './operation.js';
import { parseOrigin } from './origin.js';
import { RotatingDispatcher } from './rotating-dispatcher.js';
import type { SecureHttpClient, SecureHttpOptions, SecureHttpRequest, SecureHttpResponse } from './types.js';

function positiveInt(value: unknown, field: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new SecureNosqlError('CONFIG_INVALID', `http.${field} must be a positive integer (milliseconds or a count); got ${typeof value === 'number' ? value : typeof value}.`, { details: { field: `http.${field}` } });
  }
  return value;
}

function credentialHook(ctx: DriverContext, audience: string, scopes: readonly string[] | undefined): CredentialHook<AccessToken> {
  const tokens = ctx.tokens;
  return {
    acquire(signal, forceRefresh) {
      const options: GetTokenOptions = {};
      if (signal !== undefined) options.signal = signal;
      if (scopes !== undefined) options.scopes = scopes;
      if (forceRefresh) options.forceRefresh = true;
      return tokens.getToken(audience, options);
    },
    invalidate(token) {
      tokens.invalidate(audience, token);
    },
  };
}

/**
 * Creates the guarded mTLS HTTP client for one origin.
 *
 * Its dispatcher is, from the outside in: origin lock (other origins refused)
 * ▸ guard (canonical path, span, policy, audit, breaker, budget, auth-aware
 * retry; one dispatch per attempt) ▸ bearer token (`Authorization` from the
 * attempt's credential) ▸ a rotating agent whose new connections use the
 * current certificate generation and never resume TLS sessions, so the
 * server check (bundle, SPIFFE ID or hostname, pins) runs on every
 * connection. No redirect interceptor is installed: 3xx responses are
 * returned, not followed.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for a bad origin, audience, pins, serverId or number.
 */
export function createHttpClient(ctx: DriverContext, options: SecureHttpOptions): SecureHttpClient {
  const parsed = parseOrigin(options.origin, 'http.origin');
  const origin = parsed.origin;
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new SecureNosqlError('CONFIG_INVALID', 'http.audience is missing: name the token audience of this API, e.g. { audience: "docs-api" }.', { details: { field: 'http.audience' } });
  }
  if (options.scopes !== undefined && (!Array.isArray(options.scopes) || options.scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))) {
    throw new SecureNosqlError('CONFIG_INVALID', 'http.scopes must be an array of non-empty scope tokens without spaces, e.g. ["docs.read"].', { details: { field: 'http.scopes' } });
  }
  const verification: ServerVerification = {
    ...(options.pins === undefined ? {} : { pins: options.pins }),
    ...(options.serverId === undefined ? {} : { serverId: options.serverId }),
    ...(options.servername === undefined ? {} : { servername: options.servername }),
  };
  const connect = createMtlsConnector({
    certificates: ctx.certificates,
    verification,
    connectTimeoutMs: positiveInt(options.connectTimeout, 'connectTimeout', 10_000) ?? 10_000,
  });
  const connections = positiveInt(options.connections, 'connections', undefined);
  const agentOptions: Agent.Options = {
    connect,
    headersTimeout: positiveInt(options.headersTimeout, 'headersTimeout', 30_000) ?? 30_000,
    bodyTimeout: positiveInt(options.bodyTimeout, 'bodyTimeout', 30_000) ?? 30_000,
    keepAliveTimeout: positiveInt(options.keepAliveTimeout, 'keepAliveTimeout', 4_000) ?? 4_000,
    allowH2: false,
    ...(connections === undefined ? {} : { connections }),
  };
  const base = new RotatingDispatcher(ctx.certificates, () => new Agent(agentOptions));
  const operations = new OperationFactory({ origin, audience: options.audience, serverAddress: parsed.hostname, serverPort: parsed.port });
  // Dispatcher.compose: the LAST interceptor is the OUTERMOST.
  const dispatcher = base.compose(
    bearerTokenInterceptor(origin),
    guardInterceptor({
      guard: ctx.guard,
      operations,
      credential: credentialHook(ctx, options.audience, options.scopes),
      retryNonIdempotent: options.retryNonIdempotent === true,
      host: new URL(origin).host.toLowerCase(),
    }),
    originLockInterceptor(origin),
  );
  return new HttpClient(origin, dispatcher, base);
}

class HttpClient implements SecureHttpClient {
  readonly origin: string;
  readonly dispatcher: Dispatcher;
  readonly #base: RotatingDispatcher;
  #closed = false;

  constructor(origin: string, dispatcher: Dispatcher, base: RotatingDispatcher) {
    this.origin = origin;
    this.dispatcher = dispatcher;
    this.#base = base;
  }

  request(request: SecureHttpRequest): Promise<SecureHttpResponse> {
    if (this.#closed) return Promise.reject(new SecureNosqlError('CLOSED', `The HTTP client for ${this.origin} was closed; create a new one.`));
    const opts: SecureDispatchOptions & { signal?: AbortSignal } = {
      origin: this.origin,
      path: request.path,
      method: request.method,
      ...(request.headers === undefined ? {} : { headers: request.headers as Record<string, string | string[]> }),
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      ...(request.idempotent === undefined ? {} : { idempotent: request.idempotent }),
      ...(request.headersTimeout === undefined ? {} : { headersTimeout: request.headersTimeout }),
      ...(request.bodyTimeout === undefined ? {} : { bodyTimeout: request.bodyTimeout }),
    };
    if (request.route !== undefined) opts[kRoute] = request.route;
    return this.dispatcher.request(opts);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#base.close();
  }

  [inspect.custom](): string {
    return `SecureHttpClient { origin: '${this.origin}'${this.#closed ? ', closed' : ''} }`;
  }
}
