import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import type { CertificateGeneration, CertificateSource } from '../certificates/types.js';
import type { Disposable } from '../internal/events.js';
import { abortedError } from './backoff.js';
import type { AccessToken, GetTokenOptions, TokenCacheObserver, TokenCacheResult, TokenProvider, TokenSource } from './types.js';

/** Options of {@link TokenCache}. */
export interface TokenCacheOptions {
  /** Certificates the source authenticates with; their rotation purges certificate-bound tokens. */
  readonly certificates?: CertificateSource;
  /** Fraction of a token's lifetime after which it is refreshed in the background. Default 0.8. */
  readonly refreshAt?: number;
  /** Random spread subtracted from `refreshAt` (fraction of lifetime) so entries don't refresh in lockstep. Default 0.05. */
  readonly refreshJitter?: number;
  /** A token is not handed out within this long of its expiry, ms. Default 30,000 (capped by `safetyMarginFraction`). */
  readonly safetyMarginMs?: number;
  /** Cap of the safety margin as a fraction of the token lifetime, so short-lived tokens stay usable. Default 0.1. */
  readonly safetyMarginFraction?: number;
  /** Most entries kept; least recently used ones are evicted beyond it. Default 10,000. */
  readonly maxEntries?: number;
  /** Telemetry hooks. They never throw into the cache. */
  readonly observer?: TokenCacheObserver;
  /** Close the source when the cache is closed. Default true. */
  readonly closeSource?: boolean;
}

/** What {@link TokenCache.revokeAll} did. */
export interface RevokeAllResult {
  /** Tokens revoked at the issuer (and dropped from the cache). */
  readonly revoked: number;
  /** Revocations that failed (the tokens stay until they expire). */
  readonly failed: number;
}

/** One cache entry: (audience, scope) — the source fixes the issuer; the certificate generation is checked per lookup. */
interface Entry {
  readonly key: string;
  readonly audience: string;
  readonly scopes: readonly string[] | undefined;
  token: AccessToken | undefined;
  /**
   * A pre-resolved promise of `token` while it may be handed out, so a hit
   * allocates nothing; cleared by `expiryTimer` when the safety margin begins.
   */
  promise: Promise<AccessToken> | undefined;
  /** The last instant the token may be handed out (expiry minus the safety margin). */
  serveUntil: number;
  /** Token carries `cnf.x5t#S256` and a certificate source is known. */
  bound: boolean;
  /** The background refresh failed; the token is being served until it expires. */
  stale: boolean;
  /** CLOCK bit: used since the evictor last passed. */
  used: boolean;
  inflight: Promise<AccessToken> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Fires at `serveUntil` and withdraws `promise`. */
  expiryTimer: NodeJS.Timeout | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function scopedKey(audience: string, scopes: readonly string[]): string {
  const sorted = scopes.length > 1 ? [...scopes].sort() : scopes;
  return `${audience}\u0000${sorted.join(' ')}`;
}

/**
 * A refresh-ahead token cache over any {@link TokenSource}: one entry per
 * (audience, scope) and certificate generation, single-flight fetches,
 * background refresh at a fraction of the lifetime, compare-and-swap
 * invalidation, bounded size, and stale-while-valid serving through an
 * issuer outage. A cache hit returns a pre-resolved promise and allocates nothing.
 */
export class TokenCache implements TokenProvider {
  readonly #source: TokenSource;
  readonly #entries = new Map<string, Entry>();
  readonly #certs: CertificateSource | undefined;
  readonly #observer: TokenCacheObserver | undefined;
  readonly #refreshAt: number;
  readonly #jitter: number;
  readonly #marginMs: number;
  readonly #marginFraction: number;
  readonly #maxEntries: number;
  readonly #closeSource: boolean;
  readonly #closing = new AbortController();
  readonly #subscription: Disposable | undefined;
  #closed = false;

  constructor(source: TokenSource, options: TokenCacheOptions = {}) {
    this.#source = source;
    this.#certs = options.certificates;
    this.#observer = options.observer;
    this.#refreshAt = options.refreshAt ?? 0.8;
    this.#jitter = options.refreshJitter ?? 0.05;
    this.#marginMs = options.safetyMarginMs ?? 30_000;
    this.#marginFraction = options.safetyMarginFraction ?? 0.1;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.#closeSource = options.closeSource ?? true;
    if (!(this.#refreshAt > 0 && this.#refreshAt < 1)) {
      throw new SecureNosqlError('CONFIG_INVALID', `tokens.refreshAt must be between 0 and 1 (exclusive); got ${this.#refreshAt}.`);
    }
    this.#subscription = this.#certs?.on((event) => {
      if (event.type === 'rotated') this.#purgeBound(event.current);
    });
  }

  /** Number of entries (with or without a usable token). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns a usable token for `audience`, fetching (once for all concurrent
   * callers) when none is cached. The hit path reads no clock: on this
   * class of machine `Date.now()` alone costs more than the whole budget, so
   * freshness is a flag an unref'd timer clears when the safety margin
   * begins (a late timer is absorbed by that margin).
   */
  getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken> {
    if (options === undefined) {
      const entry = this.#entries.get(audience);
      if (entry !== undefined && entry.promise !== undefined && (!entry.bound || this.#sameCertificate(entry.token as AccessToken))) {
        entry.used = true;
        if (this.#observer !== undefined) this.#report(audience, entry.stale ? 'stale_served' : 'hit');
        return entry.promise;
      }
      return this.#slow(audience, undefined, undefined);
    }
    const scopes = options.scopes;
    const entry = this.#entries.get(scopes === undefined || scopes.length === 0 ? audience : scopedKey(audience, scopes));
    if (
      entry !== undefined &&
      entry.promise !== undefined &&
      options.forceRefresh !== true &&
      (options.signal === undefined || !options.signal.aborted) &&
      (!entry.bound || this.#sameCertificate(entry.token as AccessToken))
    ) {
      entry.used = true;
      if (this.#observer !== undefined) this.#report(audience, entry.stale ? 'stale_served' : 'hit');
      return entry.promise;
    }
    return this.#slow(audience, scopes, options);
  }

  /** Drops `token` for `audience` (any scope) only if it is still the cached one. */
  invalidate(audience: string, token: AccessToken | string): boolean {
    let dropped = false;
    for (const entry of this.#entries.values()) {
      if (entry.audience !== audience || entry.token === undefined) continue;
      if (entry.token === token || entry.token.value === (typeof token === 'string' ? token : token.value)) {
        this.#drop(entry);
        dropped = true;
      }
    }
    return dropped;
  }

  /** The cached tokens that are still valid (for revocation at shutdown). */
  cachedTokens(): AccessToken[] {
    const now = Date.now();
    const out: AccessToken[] = [];
    for (const entry of this.#entries.values()) if (entry.token !== undefined && entry.token.expiresAt > now) out.push(entry.token);
    return out;
  }

  /**
   * Revokes every cached, unexpired token at the issuer (RFC 7009) when the
   * source can revoke, and drops them. Never throws: failures are counted
   * (shutdown must not hang on an unhealthy issuer; pass a deadline signal).
   */
  async revokeAll(signal?: AbortSignal): Promise<RevokeAllResult> {
    const revoke = (this.#source as { revoke?: (token: AccessToken, signal?: AbortSignal) => Promise<boolean | undefined> }).revoke;
    if (typeof revoke !== 'function') return { revoked: 0, failed: 0 };
    const now = Date.now();
    const entries = [...this.#entries.values()].filter((e) => e.token !== undefined && e.token.expiresAt > now);
    const results = await Promise.allSettled(
      entries.map(async (entry) => {
        const token = entry.token as AccessToken;
        const revoked = (await revoke.call(this.#source, token, signal)) !== false;
        if (revoked && entry.token === token) this.#drop(entry);
        return revoked;
      }),
    );
    let revoked = 0;
    let failed = 0;
    for (const r of results) {
      if (r.status === 'rejected') failed++;
      else if (r.value) revoked++;
    }
    return { revoked, failed };
  }

  /** Clears every timer, aborts in-flight fetches and (by default) closes the source. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription?.dispose();
    for (const entry of this.#entries.values()) {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      if (entry.expiryTimer !== undefined) clearTimeout(entry.expiryTimer);
    }
    this.#entries.clear();
    this.#closing.abort(new SecureNosqlError('CLOSED', 'The token cache was closed.'));
    if (this.#closeSource) await this.#source.close?.();
  }

  #sameCertificate(token: AccessToken): boolean {
    const certs = this.#certs;
    if (certs === undefined) return true;
    const current = certs.current();
    return token.certificateGeneration !== undefined
      ? token.certificateGeneration === current.generation && token.certificateThumbprint === current.thumbprintSha256
      : token.certificateThumbprint === current.thumbprintSha256;
  }

  #report(audience: string, result: TokenCacheResult): void {
    try {
      this.#observer?.cacheResult?.(audience, result);
    } catch {
      // hooks are isolated
    }
  }

  async #slow(audience: string, scopes: readonly string[] | undefined, options: GetTokenOptions | undefined): Promise<AccessToken> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'The token cache is closed.');
    const signal = options?.signal;
    if (signal?.aborted === true) throw abortedError(signal);
    const hasScopes = scopes !== undefined && scopes.length > 0;
    const key = hasScopes ? scopedKey(audience, scopes) : audience;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      if (this.#entries.size >= this.#maxEntries) this.#evictOne();
      entry = {
        key, audience, scopes: hasScopes ? [...scopes] : undefined, token: undefined, promise: undefined,
        serveUntil: 0, bound: false, stale: false, used: false, inflight: undefined, timer: undefined, expiryTimer: undefined,
      };
      // Inserted at the tail: it is the newest already; the CLOCK bit marks later reuse.
      this.#entries.set(key, entry);
    } else {
      entry.used = true;
    }
    const force = options?.forceRefresh === true;
    if (!force && entry.promise !== undefined && entry.token !== undefined && Date.now() < entry.serveUntil && (!entry.bound || this.#sameCertificate(entry.token))) {
      entry.used = true;
      this.#report(audience, entry.stale ? 'stale_served' : 'hit');
      return entry.token;
    }
    if (entry.bound && entry.token !== undefined && !this.#sameCertificate(entry.token)) this.#drop(entry);
    this.#report(audience, force ? 'refresh' : 'miss');
    const flight = entry.inflight ?? this.#fetch(entry, force);
    return signal === undefined ? flight : raceAbort(flight, signal);
  }

  #fetch(entry: Entry, forceRefresh: boolean): Promise<AccessToken> {
    const started = Date.now();
    const flight = (async () => {
      // A rotation can land while the request is on the wire: a token bound to
      // the retired certificate is never handed out; ask once more.
      for (let attempt = 0; attempt < 2; attempt++) {
        const token = await this.#source.getToken(entry.audience, {
          signal: this.#closing.signal,
          ...(entry.scopes === undefined ? {} : { scopes: entry.scopes }),
          ...(forceRefresh ? { forceRefresh } : {}),
        });
        if (token.certificateThumbprint === undefined || this.#sameCertificate(token)) return token;
      }
      throw new SecureNosqlError('TOKEN_UNAVAILABLE', `The issuer kept returning tokens bound to a retired certificate for audience "${entry.audience}".`, {
        details: { audience: entry.audience },
      });
    })();
    entry.inflight = flight;
    const settled = flight.then(
      (token) => {
        entry.inflight = undefined;
        this.#fetched(entry.audience, started, 'ok');
        if (this.#entries.get(entry.key) === entry && !this.#closed) this.#install(entry, token);
        return token;
      },
      (error: unknown) => {
        entry.inflight = undefined;
        const wrapped = this.#closed
          ? new SecureNosqlError('CLOSED', 'The token cache was closed while the token was being fetched.', { cause: error })
          : isSecureNosqlError(error)
          ? error
          : new SecureNosqlError('TOKEN_UNAVAILABLE', `No token could be obtained for audience "${entry.audience}".`, { cause: error, details: { audience: entry.audience } });
        this.#fetched(entry.audience, started, wrapped.code);
        if (this.#entries.get(entry.key) === entry && !this.#closed && entry.token !== undefined) {
          // Keep serving the cached token; try again before it leaves its window.
          entry.stale = true;
          this.#scheduleRetry(entry);
        }
        throw wrapped;
      },
    );
    // Background refreshes have no awaiting caller.
    settled.catch(() => undefined);
    return settled;
  }

  #fetched(audience: string, started: number, outcome: string): void {
    try {
      this.#observer?.fetched?.(audience, Date.now() - started, outcome);
    } catch {
      // hooks are isolated
    }
  }

  #install(entry: Entry, token: AccessToken): void {
    const now = Date.now();
    const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
    const margin = Math.min(this.#marginMs, lifetime * this.#marginFraction);
    entry.token = token;
    entry.promise = Promise.resolve(token);
    entry.serveUntil = token.expiresAt - margin;
    entry.bound = token.certificateThumbprint !== undefined && this.#certs !== undefined;
    entry.stale = false;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    const fraction = this.#refreshAt - this.#jitter * Math.random();
    const refreshAt = Math.min(token.issuedAt + lifetime * Math.max(0.05, fraction), entry.serveUntil - 1);
    // A token already past its refresh point (a file nobody rotated yet) must not spin: wait a while.
    const floor = Math.min(1_000, Math.max(0, (entry.serveUntil - now) / 2));
    this.#schedule(entry, Math.max(refreshAt - now, floor));
    this.#scheduleExpiry(entry);
  }

  #scheduleExpiry(entry: Entry): void {
    if (entry.expiryTimer !== undefined) clearTimeout(entry.expiryTimer);
    const delay = Math.max(0, entry.serveUntil - Date.now());
    entry.expiryTimer = setTimeout(() => {
      entry.expiryTimer = undefined;
      // Long lifetimes exceed one timer's range: check the clock and re-arm.
      if (Date.now() < entry.serveUntil) this.#scheduleExpiry(entry);
      else entry.promise = undefined;
    }, Math.min(delay, MAX_TIMER_MS));
    entry.expiryTimer.unref();
  }

  #schedule(entry: Entry, delayMs: number): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.#closed || this.#entries.get(entry.key) !== entry || entry.inflight !== undefined) return;
      void this.#fetch(entry, false).catch(() => undefined);
    }, Math.min(delayMs, MAX_TIMER_MS));
    entry.timer.unref();
  }

  #scheduleRetry(entry: Entry): void {
    const remaining = entry.serveUntil - Date.now();
    if (remaining <= 50) return; // expiring: the next caller fetches
    this.#schedule(entry, Math.min(30_000, Math.max(50, Math.floor(remaining / 4))));
  }

  #drop(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.expiryTimer !== undefined) clearTimeout(entry.expiryTimer);
    entry.timer = undefined;
    entry.expiryTimer = undefined;
    entry.token = undefined;
    entry.promise = undefined;
    entry.serveUntil = 0;
    entry.bound = false;
    entry.stale = false;
  }

  #purgeBound(current: CertificateGeneration): void {
    for (const entry of this.#entries.values()) {
      const token = entry.token;
      if (token === undefined || token.certificateThumbprint === undefined) continue;
      if (token.certificateThumbprint !== current.thumbprintSha256 || (token.certificateGeneration !== undefined && token.certificateGeneration !== current.generation)) {
        this.#drop(entry);
      }
    }
  }

  /** CLOCK (second chance) eviction: cheap on hits (one flag), close to LRU. */
  #evictOne(): void {
    let budget = this.#entries.size * 2;
    for (const entry of this.#entries.values()) {
      if (budget-- <= 0) break;
      if (entry.used || entry.inflight !== undefined) {
        entry.used = false;
        this.#entries.delete(entry.key);
        this.#entries.set(entry.key, entry);
        continue;
      }
      this.#drop(entry);
      this.#entries.delete(entry.key);
      return;
    }
  }
}

/** Resolves with `flight` unless `signal` aborts first; the flight itself goes on. */
function raceAbort<T>(flight: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortedError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    flight.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
