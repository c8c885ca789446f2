import type { Dispatcher } from 'undici';
import { SecureNosqlError, isSecureNosqlError, type ErrorCode } from '../../errors/index.js';
import type { TokenProvider } from '../../tokens/types.js';
import { SessionCredentials } from './session-credentials.js';
import { assumeRoleWithWebIdentity, type StsCredentialValues, type StsOutcome } from './sts-client.js';

/** Options of {@link WebIdentityCredentials}. */
export interface WebIdentityCredentialsOptions {
  readonly tokens: TokenProvider;
  /** Audience of the web-identity token. */
  readonly audience: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number | undefined;
  readonly stsEndpoint: URL;
  /** The dispatcher for the next STS call (it may change when certificates rotate). */
  readonly dispatcher: () => Dispatcher;
  /** Fraction of the session lifetime after which a background refresh starts. Default 0.8. */
  readonly refreshAt?: number;
  /** Refresh at the latest this long before expiry, ms. Default 300,000. */
  readonly refreshBeforeMs?: number;
  /** STS attempts per fetch (first included) for retryable STS answers. Default 3. */
  readonly maxAttempts?: number;
  /** Timeout of one STS request, ms. Default 10,000. */
  readonly timeoutMs?: number;
}

type StsFailure = Extract<StsOutcome, { ok: false }>;

/** What to do with one failed STS answer. */
interface StsVerdict {
  readonly retry: 'fresh_token' | 'backoff' | 'no';
  /** Error code when no (more) retries are allowed. */
  readonly code: ErrorCode;
}

const FRESH_TOKEN = new Set(['InvalidIdentityToken', 'IDPCommunicationError', 'ExpiredTokenException', 'ExpiredToken']);
const REJECTED = new Set(['AccessDenied', 'AccessDeniedException', 'IDPRejectedClaim', 'InvalidClientTokenId']);
const CONFIG = new Set(['ValidationError', 'InvalidParameterValue', 'InvalidAction', 'MalformedPolicyDocument', 'PackedPolicyTooLarge', 'RegionDisabledException']);

function judge(f: StsFailure): StsVerdict {
  if (FRESH_TOKEN.has(f.code)) return { retry: 'fresh_token', code: f.code === 'IDPCommunicationError' ? 'UPSTREAM_UNAVAILABLE' : 'AUTH_REJECTED' };
  if (REJECTED.has(f.code)) return { retry: 'no', code: 'AUTH_REJECTED' };
  if (CONFIG.has(f.code)) return { retry: 'no', code: 'CONFIG_INVALID' };
  if (f.status === 0 || f.status >= 500 || f.status === 429 || f.code === 'Throttling' || f.code === 'ThrottlingException') return { retry: 'backoff', code: 'UPSTREAM_UNAVAILABLE' };
  return { retry: 'no', code: 'UPSTREAM_ERROR' };
}

const REMEDIATION: Partial<Record<ErrorCode, string>> = {
  AUTH_REJECTED:
    'STS refused the web identity: check the IAM role trust policy (OIDC provider, audience, subject condition) and that the token audience matches it. It is not retried.',
  CONFIG_INVALID: 'Check roleArn (arn:aws:iam::<account>:role/<name>), sessionName and sessionDurationSeconds against the role settings.',
  UPSTREAM_UNAVAILABLE: 'STS (or the identity provider it calls) is unreachable or overloaded; calls resume once it answers. Check the STS endpoint and network.',
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Temporary AWS credentials from `AssumeRoleWithWebIdentity`, with a web
 * token from the token cache: cached, refreshed in the background ahead of
 * expiry (at `refreshAt` of the lifetime or `refreshBeforeMs` before expiry,
 * whichever is first), fetched with a single flight (any number of callers on
 * cold credentials → one STS call), and dropped by compare-and-swap
 * {@link invalidate}. After an invalidation the next fetch also forces a
 * fresh web token. No timers: refreshes start on use.
 */
export class WebIdentityCredentials {
  readonly #o: WebIdentityCredentialsOptions;
  readonly #closing = new AbortController();
  #current: SessionCredentials | undefined;
  #currentPromise: Promise<SessionCredentials> | undefined;
  #inflight: Promise<SessionCredentials> | undefined;
  #forceTokenNext = false;
  #stsCalls = 0;

  /** A credential provider for the SDK; `memoized` stops the SDK from caching on top (it could not be invalidated). */
  readonly provider: (() => Promise<SessionCredentials>) & { readonly memoized: true };

  constructor(options: WebIdentityCredentialsOptions) {
    this.#o = options;
    this.provider = Object.assign(() => this.get(), { memoized: true as const });
  }

  /** STS requests made so far (for tests and metrics). */
  get stsCalls(): number {
    return this.#stsCalls;
  }

  /** Usable credentials: cached, or fetched once for all concurrent callers. */
  get(signal?: AbortSignal): Promise<SessionCredentials> {
    if (this.#closing.signal.aborted) return Promise.reject(this.#closedError());
    const c = this.#current;
    if (c !== undefined) {
      const now = Date.now();
      if (now < c.refreshAt) return this.#currentPromise as Promise<SessionCredentials>;
      if (now < c.usableUntil) {
        // Refresh ahead in the background; callers keep the still-valid credentials meanwhile.
        this.#start().catch(() => undefined);
        return this.#currentPromise as Promise<SessionCredentials>;
      }
    }
    return this.#wait(this.#start(), signal);
  }

  /**
   * Drops `credentials` if they are still the cached ones (a late invalidation
   * never discards fresher ones) and makes the next fetch use a fresh web
   * token. Returns true when something was dropped.
   */
  invalidate(credentials: SessionCredentials | undefined): boolean {
    if (credentials === undefined || this.#current !== credentials) return false;
    this.#current = undefined;
    this.#currentPromise = undefined;
    this.#forceTokenNext = true;
    return true;
  }

  /** Stops fetching and forgets the cached credentials. */
  close(): Promise<void> {
    this.#closing.abort();
    this.#current = undefined;
    this.#currentPromise = undefined;
    return Promise.resolve();
  }

  #closedError(): SecureNosqlError {
    return new SecureNosqlError('CLOSED', 'The DynamoDB client was destroyed; its credentials are no longer fetched. Create a new client.');
  }

  #start(): Promise<SessionCredentials> {
    if (this.#inflight !== undefined) return this.#inflight;
    const run = this.#fetch().then(
      (creds) => {
        this.#inflight = undefined;
        if (this.#closing.signal.aborted) throw this.#closedError();
        this.#current = creds;
        this.#currentPromise = Promise.resolve(creds);
        return creds;
      },
      (error: unknown) => {
        this.#inflight = undefined;
        throw error;
      },
    );
    this.#inflight = run;
    return run;
  }

  async #wait(p: Promise<SessionCredentials>, signal: AbortSignal | undefined): Promise<SessionCredentials> {
    if (signal === undefined) return p;
    if (signal.aborted) throw new SecureNosqlError('ABORTED', 'Waiting for AWS credentials was aborted by the caller.', { cause: signal.reason });
    // The shared fetch continues for the other callers; only this wait ends.
    return new Promise<SessionCredentials>((resolve, reject) => {
      const onAbort = (): void => {
        reject(new SecureNosqlError('ABORTED', 'Waiting for AWS credentials was aborted by the caller.', { cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => {
        signal.removeEventListener('abort', onAbort);
      });
    });
  }

  async #fetch(): Promise<SessionCredentials> {
    const o = this.#o;
    const closing = this.#closing.signal;
    const maxAttempts = o.maxAttempts ?? 3;
    let forceToken = this.#forceTokenNext;
    this.#forceTokenNext = false;
    for (let attempt = 1; ; attempt++) {
      const token = await o.tokens.getToken(o.audience, { signal: closing, forceRefresh: forceToken });
      const started = Date.now();
      this.#stsCalls++;
      const outcome = await assumeRoleWithWebIdentity(
        o.dispatcher(),
        o.stsEndpoint,
        { roleArn: o.roleArn, sessionName: o.sessionName, durationSeconds: o.durationSeconds, webIdentityToken: token.value },
        closing,
        o.timeoutMs ?? 10_000,
      );
      if (closing.aborted) throw this.#closedError();
      if (outcome.ok) return this.#wrap(outcome.credentials, started);
      const verdict = judge(outcome);
      if (verdict.retry === 'no' || attempt >= maxAttempts) throw this.#stsError(outcome, verdict.code, attempt);
      if (verdict.retry === 'fresh_token') {
        o.tokens.invalidate(o.audience, token);
        forceToken = true;
      } else {
        forceToken = false;
        await sleep(Math.floor(Math.random() * Math.min(2_000, 100 * 2 ** attempt)), closing);
      }
    }
  }

  #wrap(values: StsCredentialValues, obtainedAt: number): SessionCredentials {
    const expiresAt = values.expiration.getTime();
    const lifetime = Math.max(0, expiresAt - obtainedAt);
    const fraction = this.#o.refreshAt ?? 0.8;
    const before = this.#o.refreshBeforeMs ?? 300_000;
    // Refresh at the earlier of the two, but never in the first half of a (short) session.
    const refreshAt = obtainedAt + Math.max(lifetime * 0.5, Math.min(lifetime * fraction, lifetime - before));
    const usableUntil = expiresAt - Math.min(30_000, lifetime * 0.1);
    return new SessionCredentials(values, refreshAt, usableUntil);
  }

  #stsError(f: StsFailure, code: ErrorCode, attempts: number): SecureNosqlError {
    const where = this.#o.stsEndpoint.origin;
    const what = f.status === 0 ? `could not reach STS (${f.code})` : `STS answered ${f.status} ${f.code}`;
    return new SecureNosqlError(code, `AssumeRoleWithWebIdentity for role ${this.#o.roleArn} failed after ${attempts} attempt(s): ${what} at ${where}.`, {
      ...(REMEDIATION[code] === undefined ? {} : { remediation: REMEDIATION[code] }),
      ...(f.cause === undefined || isSecureNosqlError(f.cause) ? {} : { cause: f.cause }),
      details: { roleArn: this.#o.roleArn, stsEndpoint: where, stsCode: f.code, status: f.status, attempts, audience: this.#o.audience },
    });
  }
}
