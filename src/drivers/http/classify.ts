import type { IncomingHttpHeaders } from 'node:http';
import { isSecureNosqlError } from '../../errors/index.js';
import { classifyNetworkError, parseRetryAfter } from '../../resilience/classify.js';
import type { Classification } from '../../resilience/types.js';

/**
 * A response status the guard must act on (401, 403, 429, 502–504). It is an
 * attempt's failure, never shown to callers directly: the guard wraps it in a
 * SecureNosqlError. Holds only the status and the two headers the classifier
 * reads, never a body.
 */
export class HttpStatusError extends Error {
  /** Stable code, distinct from undici's, so network classifiers skip it. */
  readonly code = 'HTTP_STATUS';
  readonly statusCode: number;
  /** `WWW-Authenticate`, when present. */
  readonly wwwAuthenticate: string | undefined;
  /** `Retry-After`, when present. */
  readonly retryAfter: string | undefined;

  constructor(statusCode: number, headers: IncomingHttpHeaders) {
    super(`HTTP ${statusCode}`);
    this.name = 'HttpStatusError';
    this.statusCode = statusCode;
    this.wwwAuthenticate = firstHeader(headers['www-authenticate']);
    this.retryAfter = firstHeader(headers['retry-after']);
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Statuses an attempt turns into an {@link HttpStatusError} so the guard can
 * refresh, retry or fail with a typed code. Everything else (2xx, 3xx, 404,
 * 409, 500, ...) is handed to the caller as a response: a redirect is never
 * followed, and a 404 is an answer, not a fault.
 */
export function isGuardedStatus(statusCode: number): boolean {
  return statusCode === 401 || statusCode === 403 || statusCode === 429 || statusCode === 502 || statusCode === 503 || statusCode === 504;
}

/** True when `WWW-Authenticate` carries a Bearer challenge with `error="invalid_token"` (RFC 6750 §3.1). */
export function isInvalidTokenChallenge(header: string | undefined): boolean {
  if (header === undefined) return false;
  // Several challenges may share one header; find the Bearer one and its parameters.
  const bearer = /(?:^|,)\s*Bearer(?:\s+|$)(.*)$/i.exec(header);
  if (bearer === null) return false;
  // The parameters end where the next challenge (`, scheme name=`) starts.
  const params = (bearer[1] ?? '').split(/,\s*(?=[A-Za-z][\w!#$%&'*+.^`|~-]*\s+[\w!#$%&'*+.^`|~-]+\s*=)/)[0] ?? '';
  return /(?:^|[\s,])error\s*=\s*"?invalid_token"?(?:$|[\s,])/i.test(params);
}

/**
 * Classifies one failed HTTP attempt for the guard (DESIGN.md §5).
 *
 * - 401 `invalid_token` → `stale_credential` (one refresh and retry) when the
 *   body can be sent again, else `auth_rejected`; any other 401 →
 *   `auth_rejected`; 403 → `access_denied`.
 * - 429, 502, 503, 504 → `transient` with `Retry-After`; ambiguous, because
 *   the request reached a server (a non-idempotent one is retried only on
 *   opt-in).
 * - Network errors → `transient` (connection refused is unambiguous; a reset
 *   or timeout after sending is ambiguous; with a streamed body every network
 *   failure is ambiguous, so it is never sent twice).
 * - Everything else → `permanent`.
 */
export function classifyHttpFailure(error: unknown, replayableBody: boolean): Classification {
  if (error instanceof HttpStatusError) {
    const status = error.statusCode;
    if (status === 401) {
      if (isInvalidTokenChallenge(error.wwwAuthenticate)) {
        return replayableBody ? { class: 'stale_credential', reason: 'http_401_invalid_token' } : { class: 'auth_rejected', reason: 'http_401_invalid_token_body_not_replayable' };
      }
      return { class: 'auth_rejected', reason: 'http_401' };
    }
    if (status === 403) return { class: 'access_denied', reason: 'http_403' };
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      const retryAfterMs = parseRetryAfter(error.retryAfter);
      return { class: 'transient', reason: `http_${status}`, ambiguous: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return { class: 'permanent', reason: `http_${status}` };
  }
  if (isSecureNosqlError(error)) return { class: 'permanent', reason: error.code.toLowerCase() };
  const network = classifyNetworkError(error);
  // A streamed body may be partly consumed: never resend it, whatever the failure.
  if (network !== undefined) return replayableBody ? network : { ...network, ambiguous: true };
  return { class: 'permanent', reason: 'http_error' };
}
