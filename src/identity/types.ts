/** Where the workload's certificates are mounted. */
export type CertificateLocation =
  | {
      /** A directory in cert-manager (`tls.crt`/`tls.key`/`ca.crt`) or spiffe-helper (`svid.pem`/`svid_key.pem`/`bundle.pem`) layout. */
      readonly dir: string;
    }
  | {
      readonly certFile: string;
      readonly keyFile: string;
      readonly bundleFile: string;
    };

/** How the client authenticates to the token endpoint. */
export type ClientAuthConfig =
  | {
      /** RFC 8705 mutual-TLS client authentication with the workload certificate. */
      readonly method: 'tls_client_auth';
      /** `client_id` sent with the request; defaults to the service's SPIFFE ID. */
      readonly clientId?: string;
    }
  | {
      /** RFC 7523 `private_key_jwt` assertion signed with the given key. */
      readonly method: 'private_key_jwt';
      readonly clientId?: string;
      /** PEM private key file; defaults to the workload certificate key. */
      readonly keyFile?: string;
      /** JWS algorithm; derived from the key when absent (ES256, RS256, EdDSA, ...). Never HS*. */
      readonly algorithm?: string;
      /** `kid` header. */
      readonly keyId?: string;
    }
  | {
      /** RFC 8693 token exchange of a projected service-account token. */
      readonly method: 'token_exchange';
      /** File holding the subject token (re-read on every exchange). */
      readonly subjectTokenFile: string;
      /** Defaults to `urn:ietf:params:oauth:token-type:jwt`. */
      readonly subjectTokenType?: string;
      readonly clientId?: string;
    };

/** Where tokens come from. */
export interface TokenConfig {
  /** Issuer identifier (HTTPS URL); RFC 8414 metadata is read from it. */
  readonly issuer?: string;
  /** Client authentication at the token endpoint. */
  readonly clientAuth?: ClientAuthConfig;
  /** Audience → token file (projected tokens, JWT-SVIDs); used instead of the issuer for those audiences. */
  readonly files?: Readonly<Record<string, string>>;
  /** How the audience is sent: RFC 8707 `resource`, `audience`, or both. Default `both`. */
  readonly audienceParameter?: 'resource' | 'audience' | 'both';
  /** Allow plain HTTP to a loopback issuer (tests only). Default false. */
  readonly allowInsecureLoopback?: boolean;
  /** Fraction of lifetime after which a token is refreshed in the background. Default 0.8. */
  readonly refreshAt?: number;
}

/** The one object a service hands to secure-nosql. */
export interface ServiceIdentityConfig {
  /** The service's SPIFFE ID, e.g. `spiffe://prod.example/ns/orders/sa/orders-api`. */
  readonly serviceId: string;
  /** The mounted workload certificates. */
  readonly certificates: CertificateLocation;
  /** Token configuration. */
  readonly tokens?: TokenConfig;
  /** Deployment environment label for policy conditions, e.g. `prod`. */
  readonly environment?: string;
}
