import type { JSONWebKeySet } from 'jose';

/** The endpoints of {@link MockTokenIssuer}, as counted and targeted by fault injection. */
export type IssuerEndpoint = 'token' | 'sts' | 'jwks' | 'metadata' | 'revoke' | 'introspect';

/** How a registered client authenticates at the token endpoint. */
export type MockClientAuthMethod = 'tls_client_auth' | 'private_key_jwt' | 'token_exchange';

/** A client registered at the mock issuer. */
export interface MockClientRegistration {
  /** client_id; for mTLS and token exchange, the SPIFFE ID / subject it is identified by. */
  readonly id: string;
  /** Audiences it may request (`*` allows any). Others get `invalid_target`. */
  readonly audiences: readonly string[];
  /** Scopes it may request; all of them are granted when none is requested. */
  readonly scopes?: readonly string[];
  /** Token lifetime, seconds. Default the issuer's `tokenTtlSeconds` (300). */
  readonly tokenTtlSeconds?: number;
  /** `roles` claim of its tokens; also the IAM role ARNs (or role names) it may assume at the STS endpoint. */
  readonly roles?: readonly string[];
  /** Allowed authentication methods; default any. */
  readonly authMethod?: MockClientAuthMethod | readonly MockClientAuthMethod[];
  /** Public key (SPKI PEM) that verifies its private_key_jwt assertions. */
  readonly publicKey?: string;
  /** Or a JWKS that does. */
  readonly jwks?: JSONWebKeySet;
  /** Bind tokens to the presented client certificate (`cnf.x5t#S256`). Default true when a valid client certificate is presented. */
  readonly bindToCertificate?: boolean;
}

/** A server certificate with its key, as the test PKI issues it. */
export interface MockIssuerServerCertificate {
  /** Leaf (and chain), PEM. */
  readonly certificatePem: string;
  /** Private key, PEM. */
  readonly privateKeyPem: string;
}

/** The subset of the test PKI the issuer needs (see `createTestPki`). */
export interface MockIssuerPki {
  /** Root CA (trust anchor for client certificates). */
  readonly caCertPem: string;
  /** Issues a server certificate for 127.0.0.1. */
  issueServer(): Promise<MockIssuerServerCertificate>;
}

/** Options of {@link MockTokenIssuer}. */
export interface MockTokenIssuerOptions {
  /** The test PKI: its server certificate for the HTTPS listener, its CA for client certificates. */
  readonly pki: MockIssuerPki;
  /** Registered clients. */
  readonly clients?: readonly MockClientRegistration[];
  /** Port on 127.0.0.1. Default 0 (random). */
  readonly port?: number;
  /** Default token lifetime, seconds. Default 300. */
  readonly tokenTtlSeconds?: number;
  /** How long a rotated-out signing key stays in the JWKS, seconds. Default 600. */
  readonly keyGraceSeconds?: number;
  /** Audience the STS endpoint requires in web-identity tokens. Default `sts.amazonaws.com`. */
  readonly stsAudience?: string;
  /** Default STS session length, seconds (DurationSeconds overrides, up to 12 h). Default 3600. */
  readonly stsSessionSeconds?: number;
  /** AWS account id in the role and assumed-role ARNs. Default `123456789012`. */
  readonly awsAccountId?: string;
  /** Longest accepted private_key_jwt assertion lifetime, seconds. Default 300. */
  readonly maxAssertionLifetimeSeconds?: number;
}

/** One injected failure. */
export interface IssuerFault {
  /** HTTP status. Default 503. */
  readonly status?: number;
  /** Raw body; default a JSON OAuth error (or an STS XML error on the STS endpoint). */
  readonly body?: string;
  /** OAuth `error` code (or STS error `Code`) for the default body. */
  readonly error?: string;
  /** `Retry-After` seconds. */
  readonly retryAfter?: number;
  /** Which endpoint fails. Default `token`. */
  readonly endpoint?: IssuerEndpoint;
  /** Content type of a raw `body`. Default `application/json`. */
  readonly contentType?: string;
}

/** A session the STS endpoint issued. */
export interface StsSession {
  /** `ASIA…` access key id. */
  readonly accessKeyId: string;
  /** Secret: a test gateway verifies SigV4 with it. */
  readonly secretAccessKey: string;
  /** Session token (secret). */
  readonly sessionToken: string;
  /** The assumed role. */
  readonly roleArn: string;
  /** RoleSessionName. */
  readonly roleSessionName: string;
  /** ms since epoch. */
  readonly expiresAt: number;
  /** `sub` of the web-identity token. */
  readonly subject: string;
}

/** A request the issuer received (form parameters as sent, for test assertions). */
export interface ReceivedRequest {
  /** Which endpoint (`other` for unknown paths). */
  readonly endpoint: IssuerEndpoint | 'other';
  /** HTTP method. */
  readonly method: string;
  /** The client it was attributed to (client_id, assertion iss, certificate or subject). */
  readonly clientId: string | undefined;
  /** Query and form parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** URI SAN of the presented (and CA-verified) client certificate. */
  readonly clientCertificateId: string | undefined;
  /** Arrival time, ms since epoch. */
  readonly at: number;
}

/** What {@link MockTokenIssuer.verifyAccessToken} returns. */
export interface VerifiedAccessToken {
  /** `sub`. */
  readonly subject: string;
  /** `aud` as a list. */
  readonly audience: readonly string[];
  /** `scope`. */
  readonly scope: string | undefined;
  /** `roles`. */
  readonly roles: readonly string[];
  /** `jti`. */
  readonly jti: string;
  /** `exp`, ms since epoch. */
  readonly expiresAt: number;
  /** `cnf.x5t#S256`, when bound. */
  readonly certificateThumbprint: string | undefined;
  /** Every claim. */
  readonly claims: Readonly<Record<string, unknown>>;
}
