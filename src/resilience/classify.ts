import type { Classification } from './types.js';

const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date. Returns milliseconds from `now`, or undefined when absent or
 * malformed. A date in the past gives 0.
 */
export function parseRetryAfter(value: string | readonly string[] | number | null | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.min(value * 1000, MAX_RETRY_AFTER_MS) : undefined;
  const raw = typeof value === 'string' ? value : value[0];
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // All three HTTP-date forms (IMF-fixdate, RFC 850, asctime) start with a day name.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

// Failures before any byte of the request could have been processed.
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
// Failures where the request may have been applied.
const MAYBE_SENT = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RESPONSE_STATUS_CODE',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Classifies low-level network errors (Node `ECONN*`/`ETIMEDOUT`/`EPIPE`,
 * undici `UND_ERR_*`) as transient. Connection refused and DNS failures are
 * unambiguous (nothing was sent); resets and timeouts are ambiguous (the
 * request may have been applied). Follows `cause` chains a few levels deep.
 * Returns undefined for anything else, so adapters can fall through to their
 * own rules.
 */
export function classifyNetworkError(error: unknown): Classification | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = codeOf(current);
    if (code !== undefined) {
      if (NOT_SENT.has(code)) return { class: 'transient', reason: code.toLowerCase(), ambiguous: false };
      if (MAYBE_SENT.has(code)) return { class: 'transient', reason: code.toLowerCase(), ambiguous: true };
    }
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return undefined;
}
