import { readFile } from 'node:fs/promises';
import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import type { CertificateSource } from '../certificates/types.js';
import type { ClientAuthConfig } from '../identity/types.js';
import { fullJitterDelay, sleep, type RetryOptions } from './backoff.js';
import { JWT_BEARER_ASSERTION_TYPE, parsePrivateKey, signClientAssertion } from './client-assertion.js';
import { TransientIssuerFailure, issuerHttp, parseJsonObject, type IssuerHttpResult } from './issuer-http.js';
import { IssuerTransport } from './issuer-transport.js';
import { checkIssuerUrl } from './issuer-url.js';
import { discoverIssuer, type IssuerMetadata } from './discovery.js';
import { ACCESS_TOKEN_TYPE, tokenFromResponse, type TokenResponseLimits } from './token-response.js';
import type { AccessToken, GetTokenOptions, TokenSource } from './types.js';

/** RFC 8693 grant type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const REJECTING_ERRORS = new Set(['invalid_client', 'invalid_grant', 'unauthorized_client']);
/** OAuth error codes echoed in messages; anything else the issuer sends is not repeated (it is issuer-controlled text). */
const KNOWN_ERRORS = new Set([
  ...REJECTING_ERRORS, 'invalid_request', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'access_denied',
  'invalid_token', 'temporarily_unavailable', 'server_error', 'slow_down', 'unsupported_token_type',
]);

/** Options of {@link OAuthTokenSource}. */
export interface OAuthTokenSourceOptions {
  /** Issuer identifier (HTTPS URL); its RFC 8414 metadata is read and its `issuer` must match exactly. */
  readonly issuer: string;
  /** Client authentication at the token endpoint. */
  readonly clientAuth: ClientAuthConfig;
  /** Default `client_id` (normally the service's SPIFFE ID) when `clientAuth.clientId` is absent. */
  readonly clientId?: string;
  /** Workload certificates: the mTLS client certificate and the issuer's trust bundle. Required for `tls_client_auth`. */
  readonly certificates?: CertificateSource;
  /** Extra trust anchors (PEM) for the issuer's server certificate. */
  readonly ca?: string | readonly string[];
  /** How the audience is sent: `resource` (RFC 8707), `audience`, or `both` (default). */
  readonly audienceParameter?: 'resource' | 'audience' | 'both';
  /** Allow plain HTTP to a loopback issuer (tests only). Default false. */
  readonly allowInsecureLoopback?: boolean;
  /** Timeout of one attempt, ms. Default 5,000. */
  readonly attemptTimeoutMs?: number;
  /** Backoff bounds for transient failures. */
  readonly retry?: RetryOptions & {
    /** A `Retry-After` longer than this ends the retries at once, ms. Default 10,000. */
    readonly maxRetryAfterMs?: number;
  };
  /** After a definitive rejection, no new request is sent for this long, ms. Default 5,000. */
  readonly rejectionFloorMs?: number;
  /** Longest accepted `expires_in`, seconds. Default 86,400. */
  readonly maxExpiresInSeconds?: number;
  /** Longest accepted token, bytes. Default 16,384. */
  readonly maxTokenBytes?: number;
  /** private_key_jwt assertion lifetime, seconds (≤ 60). Default 60. */
  readonly assertionLifetimeSeconds?: number;
}

/**
 * An OAuth 2.0 token endpoint client: RFC 8414 discovery, `client_credentials`
 * with `tls_client_auth` (RFC 8705) or `private_key_jwt` (RFC 7523), RFC 8693
 * token exchange, RFC 7009 revocation. Transient faults are retried with full
 * jitter; definitive rejections are not, and a floor delays the next attempt.
 */
export class OAuthTokenSource implements TokenSource {
  readonly #options: OAuthTokenSourceOptions;
  readonly #issuer: URL;
  readonly #transport: IssuerTransport;
  readonly #clientId: string | undefined;
  readonly #limits: TokenResponseLimits;
  #metadata: Promise<IssuerMetadata> | undefined;
  #rejectedUntil = 0;
  #rejection: SecureNosqlError | undefined;
  #closed = false;

  constructor(options: OAuthTokenSourceOptions) {
    this.#options = options;
    this.#issuer = checkIssuerUrl(options.issuer, 'tokens.issuer', options.allowInsecureLoopback === true);
    this.#clientId = options.clientAuth.clientId ?? options.clientId;
    const auth = options.clientAuth;
    if (auth.method === 'tls_client_auth' && options.certificates === undefined) {
      throw new SecureNosqlError('CONFIG_INVALID', 'tokens.clientAuth.method "tls_client_auth" needs the workload certificates for mutual TLS.');
    }
    if (auth.method !== 'token_exchange' && this.#clientId === undefined) {
      throw new SecureNosqlError('CONFIG_INVALID', 'tokens.clientAuth.clientId is required when no serviceId is known.');
    }
    if (auth.method === 'private_key_jwt' && auth.keyFile === undefined && options.certificates === undefined) {
      throw new SecureNosqlError('CONFIG_INVALID', 'tokens.clientAuth.keyFile is required for private_key_jwt without workload certificates.');
    }
    this.#limits = { maxExpiresInSeconds: options.maxExpiresInSeconds ?? 86_400, maxTokenBytes: options.maxTokenBytes ?? 16_384 };
    this.#transport = new IssuerTransport({ certificates: options.certificates, ca: options.ca });
  }

  /** The issuer identifier this source talks to. */
  get issuer(): string {
    return this.#options.issuer;
  }

  /** Reads (once, single flight) and returns the issuer's validated metadata. */
  metadata(signal?: AbortSignal): Promise<IssuerMetadata> {
    this.#metadata ??= this.#withRetries('metadata discovery', undefined, signal, (s) =>
      discoverIssuer(this.#transport.current().agent, this.#issuer, this.#options.issuer, this.#options.allowInsecureLoopback === true, s, this.#timeout),
    ).catch((error: unknown) => {
      this.#metadata = undefined;
      throw error;
    });
    return this.#metadata;
  }

  /** Requests a token for `audience` from the token endpoint. */
  async getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'The token source is closed.');
    // eslint-disable-next-line no-control-regex
    if (typeof audience !== 'string' || audience.length === 0 || /[\s\u0000-\u001f]/.test(audience)) {
      throw new SecureNosqlError('CONFIG_INVALID', 'The token audience must be a non-empty string without whitespace or control characters.');
    }
    this.#checkRejectionFloor(audience);
    const signal = options?.signal;
    const metadata = await this.metadata(signal);
    const scope = options?.scopes !== undefined && options.scopes.length > 0 ? options.scopes.join(' ') : undefined;
    return this.#withRetries('token request', audience, signal, async (s) => {
      this.#checkRejectionFloor(audience);
      const { agent, generation } = this.#transport.current();
      const form = await this.#grantForm(audience, scope, s);
      const requestedAt = Date.now();
      const res = await issuerHttp(agent, metadata.tokenEndpoint, { method: 'POST', form }, s, this.#timeout);
      const grant = this.#options.clientAuth.method === 'token_exchange' ? 'token_exchange' : 'client_credentials';
      if (res.status === 200) {
        const body = parseJsonObject(res.body);
        if (body === undefined) throw new TransientIssuerFailure('malformed 200 response body');
        return tokenFromResponse(body, { audience, grant, requestedAt, certificateGeneration: generation, limits: this.#limits });
      }
      throw this.#failure(res, audience);
    });
  }

  /** Revokes `token` at the issuer's RFC 7009 revocation endpoint (one attempt). */
  async revoke(token: AccessToken | string, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'The token source is closed.');
    const metadata = await this.metadata(signal);
    if (metadata.revocationEndpoint === undefined) {
      throw new SecureNosqlError('CONFIG_INVALID', `The issuer ${this.#issuer.origin} publishes no revocation_endpoint.`);
    }
    const form = new URLSearchParams({ token: typeof token === 'string' ? token : token.value, token_type_hint: 'access_token' });
    await this.#addClientAuth(form, signal);
    let res: IssuerHttpResult;
    try {
      res = await issuerHttp(this.#transport.current().agent, metadata.revocationEndpoint, { method: 'POST', form }, signal, this.#timeout);
    } catch (error) {
      if (isSecureNosqlError(error)) throw error;
      throw new SecureNosqlError('TOKEN_UNAVAILABLE', `Token revocation at ${metadata.revocationEndpoint.href} failed.`, { cause: error });
    }
    if (res.status !== 200) throw this.#failure(res, typeof token === 'string' ? 'revocation' : token.audience);
    return true;
  }

  /** Closes the HTTP agents. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#transport.close();
  }

  get #timeout(): number {
    return this.#options.attemptTimeoutMs ?? 5_000;
  }

  #checkRejectionFloor(audience: string): void {
    if (this.#rejection !== undefined && Date.now() < this.#rejectedUntil) {
      throw new SecureNosqlError('AUTH_REJECTED', `The issuer rejected this client recently; no new token request for audience "${audience}" before ${new Date(this.#rejectedUntil).toISOString()}.`, {
        cause: this.#rejection,
        details: { audience },
      });
    }
  }

  async #grantForm(audience: string, scope: string | undefined, signal: AbortSignal): Promise<URLSearchParams> {
    const form = new URLSearchParams();
    const auth = this.#options.clientAuth;
    if (auth.method === 'token_exchange') {
      form.set('grant_type', TOKEN_EXCHANGE_GRANT);
      form.set('subject_token', await this.#readSubjectToken(auth.subjectTokenFile, signal));
      form.set('subject_token_type', auth.subjectTokenType ?? JWT_TOKEN_TYPE);
      form.set('requested_token_type', ACCESS_TOKEN_TYPE);
      if (this.#clientId !== undefined) form.set('client_id', this.#clientId);
    } else {
      form.set('grant_type', 'client_credentials');
      await this.#addClientAuth(form, signal);
    }
    const where = this.#options.audienceParameter ?? 'both';
    if (where !== 'audience') form.set('resource', audience);
    if (where !== 'resource') form.set('audience', audience);
    if (scope !== undefined) form.set('scope', scope);
    return form;
  }

  async #addClientAuth(form: URLSearchParams, signal: AbortSignal | undefined): Promise<void> {
    const auth = this.#options.clientAuth;
    if (this.#clientId !== undefined) form.set('client_id', this.#clientId);
    if (auth.method !== 'private_key_jwt') return;
    let pem: string;
    let where: string;
    if (auth.keyFile !== undefined) {
      where = auth.keyFile;
      pem = await readFile(auth.keyFile, { encoding: 'utf8', ...(signal === undefined ? {} : { signal }) }).catch((error: unknown) => {
        throw new SecureNosqlError('CONFIG_INVALID', `The private_key_jwt key file ${auth.keyFile ?? ''} cannot be read.`, { cause: error });
      });
    } else {
      const gen = (this.#options.certificates as CertificateSource).current();
      where = gen.paths.key;
      pem = gen.privateKeyPem;
    }
    const assertion = await signClientAssertion({
      clientId: this.#clientId as string,
      audience: this.#options.issuer,
      key: parsePrivateKey(pem, where),
      algorithm: auth.algorithm,
      keyId: auth.keyId,
      ...(this.#options.assertionLifetimeSeconds === undefined ? {} : { lifetimeSeconds: this.#options.assertionLifetimeSeconds }),
    });
    form.set('client_assertion_type', JWT_BEARER_ASSERTION_TYPE);
    form.set('client_assertion', assertion);
  }

  async #readSubjectToken(path: string, signal: AbortSignal): Promise<string> {
    let text: string;
    try {
      text = await readFile(path, { encoding: 'utf8', signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new SecureNosqlError('TOKEN_UNAVAILABLE', `The subject token file ${path} cannot be read.`, {
        remediation: 'Check the projected service-account token volume is mounted at tokens.clientAuth.subjectTokenFile.',
        cause: error,
        details: { path },
      });
    }
    const token = text.trim();
    if (token.length === 0 || /[\s]/.test(token)) {
      throw new TransientIssuerFailure(`subject token file ${path} is empty or partial`);
    }
    return token;
  }

  #failure(res: IssuerHttpResult, audience: string): Error {
    const status = res.status;
    if (status === 408 || status === 429 || status >= 500) {
      const failure = new TransientIssuerFailure(`HTTP ${status}`);
      return Object.assign(failure, { retryAfterMs: res.retryAfterMs });
    }
    const rawError = parseJsonObject(res.body)?.error;
    const error = typeof rawError === 'string' ? (KNOWN_ERRORS.has(rawError) ? rawError : 'unrecognized_error') : '';
    const label = `HTTP ${status}${error === '' ? '' : ` ${error}`}`;
    const details = { audience, status, ...(error === '' ? {} : { error }) };
    if (status >= 300 && status < 400) {
      return new SecureNosqlError('UPSTREAM_ERROR', `The issuer answered ${label} with a redirect, which is not followed.`, {
        remediation: 'Configure tokens.issuer with the issuer identifier itself; redirects are refused for security.',
        details,
      });
    }
    if (REJECTING_ERRORS.has(error) || status === 401 || status === 403) {
      const rejection = new SecureNosqlError('AUTH_REJECTED', `The issuer rejected the client (${label}) for audience "${audience}".`, {
        remediation: 'Check the client registration at the issuer (client_id, key, certificate, allowed grants) and whether it was revoked. It is not retried.',
        details,
      });
      this.#rejection = rejection;
      this.#rejectedUntil = Date.now() + (this.#options.rejectionFloorMs ?? 5_000);
      return rejection;
    }
    if (error === 'invalid_target') {
      return new SecureNosqlError('CONFIG_INVALID', `The issuer refused the audience "${audience}" (invalid_target): this client may not request tokens for it.`, {
        remediation: `Register "${audience}" as an allowed audience for this client at the issuer, or fix the audience in the client configuration.`,
        details,
      });
    }
    if (error === 'invalid_scope') {
      return new SecureNosqlError('CONFIG_INVALID', `The issuer refused the requested scope for audience "${audience}" (invalid_scope).`, { details });
    }
    return new SecureNosqlError('UPSTREAM_ERROR', `The issuer refused the token request (${label}) for audience "${audience}".`, { details });
  }

  async #withRetries<T>(what: string, audience: string | undefined, signal: AbortSignal | undefined, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const retry = this.#options.retry ?? {};
    const maxAttempts = Math.max(1, retry.maxAttempts ?? 4);
    const base = retry.baseDelayMs ?? 100;
    const cap = retry.maxDelayMs ?? 5_000;
    const maxRetryAfter = retry.maxRetryAfterMs ?? 10_000;
    const never = signal ?? new AbortController().signal;
    let last: TransientIssuerFailure | undefined;
    let attempts = 0;
    for (let n = 1; n <= maxAttempts; n++) {
      attempts = n;
      try {
        return await attempt(never);
      } catch (error) {
        if (!(error instanceof TransientIssuerFailure)) throw error;
        last = error;
      }
      if (n === maxAttempts || this.#closed) break;
      const retryAfter = (last as { retryAfterMs?: number }).retryAfterMs;
      if (retryAfter !== undefined && retryAfter > maxRetryAfter) break;
      await sleep(retryAfter ?? fullJitterDelay(n, base, cap), signal);
    }
    const reason = last?.reason ?? 'unknown';
    throw new SecureNosqlError('TOKEN_UNAVAILABLE', `The ${what}${audience === undefined ? '' : ` for audience "${audience}"`} at ${this.#issuer.origin} failed after ${attempts} attempt(s): ${reason}.`, {
      cause: last,
      details: { ...(audience === undefined ? {} : { audience }), attempts, reason },
    });
  }
}
