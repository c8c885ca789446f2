import { inspect } from 'node:util';
import type { AccessToken } from './types.js';

/** The fields of an {@link AccessToken}, as a source builds it. */
export interface AccessTokenInit {
  /** The secret token value. */
  readonly value: string;
  /** `Bearer`, or `N_A` for a token-exchange result. */
  readonly tokenType: string;
  /** The audience it was requested for. */
  readonly audience: string;
  /** Granted scope, space separated. */
  readonly scope?: string | undefined;
  /** Issue time, ms since epoch (local clock). */
  readonly issuedAt: number;
  /** Expiry, ms since epoch (local clock). */
  readonly expiresAt: number;
  /** `cnf.x5t#S256` when certificate-bound. */
  readonly certificateThumbprint?: string | undefined;
  /** Certificate generation used for the grant (mTLS). */
  readonly certificateGeneration?: number | undefined;
}

/** The non-secret view of a token, as `toJSON()` returns it. */
export interface AccessTokenJSON {
  /** Token type. */
  readonly tokenType: string;
  /** Audience. */
  readonly audience: string;
  /** Granted scope. */
  readonly scope: string | undefined;
  /** Issue time, ISO 8601. */
  readonly issuedAt: string;
  /** Expiry, ISO 8601. */
  readonly expiresAt: string;
  /** True when bound to a client certificate. */
  readonly certificateBound: boolean;
  /** Certificate generation used for the grant. */
  readonly certificateGeneration: number | undefined;
  /** Always `[REDACTED]`. */
  readonly value: '[REDACTED]';
}

/**
 * An immutable access token that redacts itself: `toString()`, `toJSON()`
 * and `util.inspect()` show its metadata but never `value`.
 */
class RedactingAccessToken implements AccessToken {
  readonly value!: string;
  readonly tokenType: string;
  readonly audience: string;
  readonly scope: string | undefined;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly certificateThumbprint: string | undefined;
  readonly certificateGeneration: number | undefined;

  constructor(init: AccessTokenInit) {
    // Non-enumerable so spreading, Object.entries and naive loggers skip it.
    Object.defineProperty(this, 'value', { value: init.value, enumerable: false, writable: false });
    this.tokenType = init.tokenType;
    this.audience = init.audience;
    this.scope = init.scope;
    this.issuedAt = init.issuedAt;
    this.expiresAt = init.expiresAt;
    this.certificateThumbprint = init.certificateThumbprint;
    this.certificateGeneration = init.certificateGeneration;
    Object.freeze(this);
  }

  toString(): string {
    return `AccessToken(${this.audience}, expires ${new Date(this.expiresAt).toISOString()}, [REDACTED])`;
  }

  toJSON(): AccessTokenJSON {
    return {
      tokenType: this.tokenType,
      audience: this.audience,
      scope: this.scope,
      issuedAt: new Date(this.issuedAt).toISOString(),
      expiresAt: new Date(this.expiresAt).toISOString(),
      certificateBound: this.certificateThumbprint !== undefined,
      certificateGeneration: this.certificateGeneration,
      value: '[REDACTED]',
    };
  }

  [inspect.custom](): string {
    return `AccessToken ${JSON.stringify(this.toJSON())}`;
  }
}

/** Builds a frozen, self-redacting {@link AccessToken}. */
export function createAccessToken(init: AccessTokenInit): AccessToken {
  return new RedactingAccessToken(init);
}
