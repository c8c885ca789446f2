import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { DEFAULT_REMEDIATION, type ErrorCode } from './codes.js';

const BRAND = Symbol.for('secure-nosql.error');

/** Options accepted by {@link SecureNosqlError}. */
export interface SecureNosqlErrorOptions {
  /** What to do about it; defaults to a generic remediation for the code. */
  remediation?: string;
  /** The underlying error. Kept for diagnostics, never serialised by `toJSON()`. */
  cause?: unknown;
  /** Non-secret structured details (paths, audiences, status codes). */
  details?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Correlation id; a random one is generated when absent. */
  correlationId?: string;
}

/** The view of an error that is safe to hand to a service's external callers. */
export interface PublicErrorView {
  /** The stable error code. */
  readonly code: ErrorCode;
  /** A generic message that reveals no internal detail. */
  readonly message: string;
  /** The correlation id that links this view to the detailed log entry. */
  readonly correlationId: string;
}

/** The JSON form of an error for the service's own logs. */
export interface SecureNosqlErrorJSON {
  readonly name: string;
  readonly code: ErrorCode;
  readonly message: string;
  readonly remediation: string;
  readonly correlationId: string;
  readonly details?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly cause?: { readonly name: string; readonly code?: string };
}

const PUBLIC_MESSAGES: Readonly<Record<ErrorCode, string>> = {
  CONFIG_INVALID: 'The service is misconfigured.',
  CERT_INVALID: 'The service credentials are unavailable.',
  CERT_EXPIRED: 'The service credentials are unavailable.',
  CERT_KEY_MISMATCH: 'The service credentials are unavailable.',
  CERT_IDENTITY_MISMATCH: 'The service credentials are unavailable.',
  TLS_PIN_MISMATCH: 'A secure connection could not be established.',
  TOKEN_UNAVAILABLE: 'The service credentials are unavailable.',
  TOKEN_INVALID: 'The service credentials are unavailable.',
  AUTH_REJECTED: 'The service could not authenticate to a dependency.',
  ACCESS_DENIED: 'The operation is not permitted.',
  POLICY_DENIED: 'The operation is not permitted.',
  CIRCUIT_OPEN: 'A dependency is temporarily unavailable.',
  UPSTREAM_UNAVAILABLE: 'A dependency is temporarily unavailable.',
  UPSTREAM_ERROR: 'A dependency rejected the request.',
  TIMEOUT: 'A dependency did not answer in time.',
  ABORTED: 'The operation was cancelled.',
  CLOSED: 'The service is shutting down.',
  DEPENDENCY_MISSING: 'The service is misconfigured.',
};

/**
 * The one error class of secure-nosql. Every failure the library raises is a
 * `SecureNosqlError` with a stable {@link ErrorCode}, a remediation and an
 * optional `cause`. Messages never contain secret material (tokens, keys,
 * passwords, assertions); `toJSON()` and `util.inspect()` omit the cause's
 * message for the same reason.
 *
 * Use {@link isSecureNosqlError} rather than `instanceof`: it works when two
 * copies of the package are installed.
 */
export class SecureNosqlError extends Error {
  /** The stable error code. */
  readonly code: ErrorCode;
  /** What to do about it. */
  readonly remediation: string;
  /** Correlation id shared by the detailed and the public view. */
  readonly correlationId: string;
  /** Non-secret structured details. */
  readonly details: Readonly<Record<string, string | number | boolean | undefined>> | undefined;

  constructor(code: ErrorCode, message: string, options: SecureNosqlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SecureNosqlError';
    this.code = code;
    this.remediation = options.remediation ?? DEFAULT_REMEDIATION[code];
    this.correlationId = options.correlationId ?? randomUUID();
    this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }

  /** A generic view that is safe to return to external callers. */
  toPublic(): PublicErrorView {
    return { code: this.code, message: PUBLIC_MESSAGES[this.code], correlationId: this.correlationId };
  }

  /** The log form: code, message, remediation, details; the cause by name and code only. */
  toJSON(): SecureNosqlErrorJSON {
    const cause = describeCause(this.cause);
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      remediation: this.remediation,
      correlationId: this.correlationId,
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(cause === undefined ? {} : { cause }),
    };
  }

  /** `util.inspect` shows the same fields as `toJSON()`; a cause's message may hold driver text, so it is left out. */
  [inspect.custom](): string {
    const json = this.toJSON();
    const lines = [`${json.name} [${json.code}]: ${json.message}`, `  remediation: ${json.remediation}`, `  correlationId: ${json.correlationId}`];
    if (json.details !== undefined) lines.push(`  details: ${JSON.stringify(json.details)}`);
    if (json.cause !== undefined) lines.push(`  cause: ${json.cause.name}${json.cause.code === undefined ? '' : ` (${json.cause.code})`}`);
    return lines.join('\n');
  }
}

function describeCause(cause: unknown): { name: string; code?: string } | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause !== 'object') return { name: typeof cause };
  const name = (cause as { name?: unknown }).name;
  const code = (cause as { code?: unknown }).code;
  return {
    name: typeof name === 'string' ? name : 'Error',
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
  };
}

/** True when `value` is a {@link SecureNosqlError}, from this or another installed copy of the package. */
export function isSecureNosqlError(value: unknown): value is SecureNosqlError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** True when `value` is a {@link SecureNosqlError} with the given code. */
export function hasErrorCode(value: unknown, code: ErrorCode): value is SecureNosqlError {
  return isSecureNosqlError(value) && value.code === code;
}
