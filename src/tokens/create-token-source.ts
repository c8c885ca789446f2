import { SecureNosqlError } from '../errors/index.js';
import type { CertificateSource } from '../certificates/types.js';
import type { TokenConfig } from '../identity/types.js';
import { FileTokenSource, type FileTokenSourceOptions } from './file-token-source.js';
import { OAuthTokenSource, type OAuthTokenSourceOptions } from './oauth-token-source.js';
import type { AccessToken, GetTokenOptions, TokenSource } from './types.js';

/** Extra knobs for {@link createTokenSource} beyond the identity's `tokens` config. */
export interface CreateTokenSourceOptions {
  /** Default client_id: the service's SPIFFE ID. */
  readonly serviceId?: string;
  /** Extra trust anchors (PEM) for the issuer's server certificate. */
  readonly ca?: string | readonly string[];
  /** Issuer client tuning (timeouts, retries, rejection floor, limits). */
  readonly issuer?: Partial<Omit<OAuthTokenSourceOptions, 'issuer' | 'clientAuth' | 'certificates'>>;
  /** File source tuning. */
  readonly files?: Omit<FileTokenSourceOptions, 'files'>;
}

/** A {@link TokenSource} that can also revoke at the issuer (RFC 7009). */
export interface RevocableTokenSource extends TokenSource {
  /**
   * Revokes a token at the issuer (RFC 7009). Resolves true when revoked,
   * false when the token is not the issuer's to revoke (read from a file);
   * rejects when there is no issuer or revocation fails.
   */
  revoke(token: AccessToken | string, signal?: AbortSignal): Promise<boolean>;
  /** Closes the file watchers and the issuer client. */
  close(): Promise<void>;
}

/** Routes each audience to its file when one is listed, otherwise to the issuer. */
class RoutingTokenSource implements RevocableTokenSource {
  readonly #files: FileTokenSource | undefined;
  readonly #issuer: OAuthTokenSource | undefined;

  constructor(files: FileTokenSource | undefined, issuer: OAuthTokenSource | undefined) {
    this.#files = files;
    this.#issuer = issuer;
  }

  getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken> {
    if (this.#files !== undefined && this.#files.audiences.includes(audience)) return this.#files.getToken(audience, options);
    if (this.#issuer !== undefined) return this.#issuer.getToken(audience, options);
    return Promise.reject(
      new SecureNosqlError('CONFIG_INVALID', `No token source serves audience "${audience}": it is not in tokens.files and no tokens.issuer is configured.`, {
        remediation: `Add "${audience}" to tokens.files or configure tokens.issuer.`,
      }),
    );
  }

  revoke(token: AccessToken | string, signal?: AbortSignal): Promise<boolean> {
    if (typeof token !== 'string' && this.#files !== undefined && this.#files.audiences.includes(token.audience)) return Promise.resolve(false);
    if (this.#issuer === undefined) return Promise.reject(new SecureNosqlError('CONFIG_INVALID', 'Token revocation needs tokens.issuer.'));
    return this.#issuer.revoke(token, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.#files?.close(), this.#issuer?.close()]);
  }
}

/**
 * Builds the token source for an identity's `tokens` config: files for the
 * listed audiences, the issuer (RFC 8414 discovery, the configured client
 * authentication) for every other. Wrap the result in one `TokenCache`.
 */
export function createTokenSource(config: TokenConfig, certificates: CertificateSource | undefined, options: CreateTokenSourceOptions = {}): RevocableTokenSource {
  // With neither issuer nor files, the source still builds (an identity may use mTLS only); every getToken then names the fix.
  const hasFiles = config.files !== undefined && Object.keys(config.files).length > 0;
  const files = hasFiles ? new FileTokenSource({ ...options.files, files: config.files ?? {} }) : undefined;
  let issuer: OAuthTokenSource | undefined;
  if (config.issuer !== undefined) {
    issuer = new OAuthTokenSource({
      ...options.issuer,
      issuer: config.issuer,
      clientAuth: config.clientAuth ?? { method: 'tls_client_auth' },
      ...(certificates === undefined ? {} : { certificates }),
      ...(options.serviceId === undefined ? {} : { clientId: options.issuer?.clientId ?? options.serviceId }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(config.audienceParameter === undefined ? {} : { audienceParameter: config.audienceParameter }),
      ...(config.allowInsecureLoopback === undefined ? {} : { allowInsecureLoopback: config.allowInsecureLoopback }),
    });
  }
  return new RoutingTokenSource(files, issuer);
}
