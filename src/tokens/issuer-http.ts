import { request, type Agent } from 'undici';
import { abortedError } from './backoff.js';

/** Largest issuer response body read, bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** A failure worth another attempt (network, timeout). Internal to the issuer client. */
export class TransientIssuerFailure extends Error {
  readonly reason: string;
  constructor(reason: string, cause?: unknown) {
    super(`issuer request failed: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'TransientIssuerFailure';
    this.reason = reason;
  }
}

/** One HTTP exchange with the issuer. */
export interface IssuerHttpResult {
  readonly status: number;
  /** `Retry-After`, ms, when the issuer sent a readable one. */
  readonly retryAfterMs: number | undefined;
  readonly contentType: string;
  /** The body, or undefined when it exceeded the size bound. */
  readonly body: string | undefined;
}

/** Parses `Retry-After` (delta seconds or an HTTP date). */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Sends one request to the issuer with a per-attempt timeout inside the
 * caller's signal. Redirects are never followed (undici's `request` does not
 * follow them without the redirect interceptor). Network failures and
 * timeouts become {@link TransientIssuerFailure}; the caller's abort becomes ABORTED.
 */
export async function issuerHttp(
  agent: Agent,
  url: URL,
  init: { readonly method: 'GET' | 'POST'; readonly form?: URLSearchParams },
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<IssuerHttpResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  try {
    const res = await request(url, {
      method: init.method,
      dispatcher: agent,
      signal: combined,
      headers: {
        accept: 'application/json',
        ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(init.form === undefined ? {} : { body: init.form.toString() }),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let oversize = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        oversize = true;
        res.body.destroy();
        break;
      }
      chunks.push(chunk);
    }
    const contentType = res.headers['content-type'];
    return {
      status: res.statusCode,
      retryAfterMs: parseRetryAfter(res.headers['retry-after']),
      contentType: typeof contentType === 'string' ? contentType : '',
      body: oversize ? undefined : Buffer.concat(chunks).toString('utf8'),
    };
  } catch (error) {
    if (signal?.aborted === true) throw abortedError(signal);
    if (timeout.aborted) throw new TransientIssuerFailure(`no answer within ${timeoutMs} ms`, error);
    const code = (error as { code?: unknown }).code;
    throw new TransientIssuerFailure(typeof code === 'string' ? code : 'network error', error);
  }
}

/** Parses a JSON object body, or undefined when it is not one. */
export function parseJsonObject(body: string | undefined): Record<string, unknown> | undefined {
  if (body === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
