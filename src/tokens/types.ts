/**
 * An access token. The object redacts itself in `toString`, `toJSON` and
 * `util.inspect`; only `value` holds the secret.
 */
export interface AccessToken {
  /** The secret token value. Never log it. */
  readonly value: string;
  /** Token type, e.g. `Bearer` or `DPoP` or `N_A` for token exchange. */
  readonly tokenType: string;
  /** The audience it was requested for. */
  readonly audience: string;
  /** Granted scope (space separated), when any. */
  readonly scope: string | undefined;
  /** Issue time, ms since epoch (local clock). */
  readonly issuedAt: number;
  /** Expiry, ms since epoch (local clock). */
  readonly expiresAt: number;
  /** `cnf.x5t#S256` when the token is bound to the client certificate. */
  readonly certificateThumbprint: string | undefined;
  /** Certificate generation it was obtained with, when the grant used mTLS. */
  readonly certificateGeneration: number | undefined;
}

/** Options for {@link TokenSource.getToken}. */
export interface GetTokenOptions {
  /** Aborts the wait (not a shared fetch other callers still need). */
  signal?: AbortSignal;
  /** Requested scopes; part of the cache key. */
  scopes?: readonly string[];
  /** Skip the cache and fetch a fresh token (after a rejection). */
  forceRefresh?: boolean;
}

/** Anything that can produce an access token for an audience. */
export interface TokenSource {
  /** Returns a token for `audience`; rejects with a SecureNosqlError. */
  getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken>;
  /** Releases timers, watchers and sockets. */
  close?(): Promise<void>;
}

/** Cache lookups as reported to telemetry. */
export type TokenCacheResult = 'hit' | 'miss' | 'refresh' | 'stale_served';

/** Hooks a token cache calls so telemetry can count without coupling. Hooks never throw into the cache. */
export interface TokenCacheObserver {
  /** One call per `getToken`. */
  cacheResult?(audience: string, result: TokenCacheResult): void;
  /** One call per issuer fetch. `outcome` is `ok` or an error code. */
  fetched?(audience: string, durationMs: number, outcome: string): void;
}

/** The token cache's public face: a {@link TokenSource} plus compare-and-swap invalidation. */
export interface TokenProvider extends TokenSource {
  /**
   * Drops `token` for `audience` only if it is still the cached one (compare
   * and swap), so a late invalidation never discards a fresher token.
   * Returns true when something was dropped.
   */
  invalidate(audience: string, token: AccessToken | string): boolean;
}
