import type { OIDCCallbackParams, OIDCResponse } from 'mongodb';
import type { AccessToken, TokenProvider } from '../../tokens/types.js';
import type { AuthFailureObserver } from './classify.js';

interface Handed {
  readonly token: AccessToken;
  /** Fetched with `forceRefresh` after a rejection (a rejection of it is definitive). */
  readonly forced: boolean;
}

/**
 * Bridges the driver's `OIDC_CALLBACK` to the shared token cache.
 *
 * The driver keeps its own per-client token and calls back when it has none:
 * on first use, when several connections are established at once (it
 * serialises but does not de-duplicate those calls), and after it dropped a
 * rejected token (18) or re-authenticates (391). A second call is therefore
 * *not* proof of a rejection, and forcing a refresh on it would stampede the
 * issuer; the token cache answers those calls (one fetch, shared).
 *
 * A rejection is known for sure when it surfaces through the guard's
 * classifier (18 or 391 after the driver's own attempt). The bridge then
 * invalidates exactly that token in the shared cache (compare-and-swap) and
 * remembers it; the next callback fetches a fresh one (with `forceRefresh`
 * if the cache still returns the rejected value) instead of handing the
 * rejected one back.
 * A token fetched that way is marked `forced`, so its own rejection is
 * definitive (AUTH_REJECTED) rather than another refresh.
 * @internal
 */
export class OidcCallbackBridge implements AuthFailureObserver {
  readonly #tokens: TokenProvider;
  readonly #audience: string;
  #last: Handed | undefined;
  #rejected: AccessToken | undefined;
  #fetches = 0;
  #calls = 0;

  constructor(tokens: TokenProvider, audience: string) {
    this.#tokens = tokens;
    this.#audience = audience;
  }

  /** Callbacks that fetched a fresh token after a rejection. */
  get forcedRefreshes(): number {
    return this.#fetches;
  }

  /** Callback invocations: one per client start, plus one per driver re-authentication without a usable driver-side token. */
  get calls(): number {
    return this.#calls;
  }

  /** The function handed to the driver as `OIDC_CALLBACK`. */
  readonly callback = async (params: OIDCCallbackParams): Promise<OIDCResponse> => {
    this.#calls++;
    const signal = params.timeoutContext;
    let handed: Handed;
    const rejected = this.#rejected;
    if (rejected !== undefined) {
      const current = await this.#tokens.getToken(this.#audience, { signal });
      // The rejected token was invalidated, so this is normally a new one; if the cache still returns it, force a fetch.
      const token = current.value !== rejected.value ? current : await this.#tokens.getToken(this.#audience, { signal, forceRefresh: true });
      // Cleared only once a replacement is in hand, so an aborted callback does not forget the rejection.
      if (this.#rejected === rejected) this.#rejected = undefined;
      this.#fetches++;
      handed = { token, forced: true };
    } else {
      const token = await this.#tokens.getToken(this.#audience, { signal });
      const last = this.#last;
      handed = { token, forced: last !== undefined && last.forced && last.token.value === token.value };
    }
    this.#last = handed;
    const expiresInSeconds = Math.max(0, Math.floor((handed.token.expiresAt - Date.now()) / 1000));
    // Exactly these two keys: the driver rejects any other property.
    return { accessToken: handed.token.value, expiresInSeconds };
  };

  credentialRejected(code: number): boolean {
    const last = this.#last;
    if (last === undefined) return false;
    // A freshly fetched token rejected with 18 is definitive: no further refresh (no issuer stampede).
    if (last.forced && code === 18) return true;
    // Drop it from the shared cache now (compare-and-swap), so every client of this cache stops handing it out.
    this.#tokens.invalidate(this.#audience, last.token);
    this.#rejected = last.token;
    return false;
  }
}
