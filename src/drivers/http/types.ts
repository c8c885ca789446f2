import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** Options of `secure.http()` / {@link createHttpClient}. */
export interface SecureHttpOptions {
  /** The one HTTPS origin this client talks to, e.g. `https://docs.internal:8443`. Requests to any other origin are refused. */
  readonly origin: string;
  /** Token audience for this API (the token cache key). */
  readonly audience: string;
  /** Scopes requested with the token. */
  readonly scopes?: readonly string[];
  /** Base64 SHA-256 SPKI pins of the server key (several allowed for rotation). Checked on every connection. */
  readonly pins?: readonly string[];
  /** Authorize the server by SPIFFE ID (exact ID or `spiffe://<trust domain>`) instead of by hostname. */
  readonly serverId?: string;
  /** Name sent as SNI and checked against the server certificate when no serverId is set (default: the origin host). */
  readonly servername?: string;
  /** Most connections to the origin (undici `connections`); default unlimited. */
  readonly connections?: number;
  /** Retry POST/PATCH after an ambiguous transient failure (the request may have been applied). Default false. */
  readonly retryNonIdempotent?: boolean;
  /** Wait for response headers, ms. Default 30,000. */
  readonly headersTimeout?: number;
  /** Wait between body chunks, ms. Default 30,000. */
  readonly bodyTimeout?: number;
  /** TCP + TLS handshake deadline, ms. Default 10,000. */
  readonly connectTimeout?: number;
  /** Idle keep-alive socket lifetime, ms (undici `keepAliveTimeout`). Default 4,000. */
  readonly keepAliveTimeout?: number;
}

/** One request made with {@link SecureHttpClient.request}. */
export interface SecureHttpRequest {
  /** HTTP method; GET/HEAD/OPTIONS need `read`, PUT/POST/PATCH/DELETE need `write` on `http:<origin><path>`. */
  readonly method: string;
  /** Origin-relative path with optional query; canonicalised before policy and sending. */
  readonly path: string;
  /** Request headers. An `Authorization` header is replaced by the client's bearer token. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Body. A string or bytes can be replayed after a stale token; a stream cannot (then a 401 is final). */
  readonly body?: string | Buffer | Uint8Array | Readable | null;
  readonly signal?: AbortSignal;
  /** Declare this request safe to retry after an ambiguous failure (opt-in for POST/PATCH). */
  readonly idempotent?: boolean;
  /** Route template for the span name and `url.template`, e.g. `/v1/docs/:id`. */
  readonly route?: string;
  readonly headersTimeout?: number;
  readonly bodyTimeout?: number;
}

/** undici's response: status, headers and a body stream the caller must consume or dump. */
export type SecureHttpResponse = Dispatcher.ResponseData;

/** A guarded mTLS HTTP client for one origin. */
export interface SecureHttpClient {
  /** The normalised origin. */
  readonly origin: string;
  /**
   * An undici dispatcher for `undici.request(url, { dispatcher })`, `stream`,
   * `pipeline` and `fetch(url, { dispatcher })`: every request it carries goes
   * through the guard and gets the bearer token; other origins are refused.
   */
  readonly dispatcher: Dispatcher;
  /** Sends one guarded request. Rejects with a SecureNosqlError for 401/403/429/5xx outcomes after the guard's handling. */
  request(request: SecureHttpRequest): Promise<SecureHttpResponse>;
  /** Closes the connections (in-flight requests finish first). */
  close(): Promise<void>;
}
