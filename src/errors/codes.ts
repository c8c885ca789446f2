/**
 * Stable error codes of secure-nosql. A code never changes meaning once
 * released; match on it (never on `message`).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CERT_INVALID'
  | 'CERT_EXPIRED'
  | 'CERT_KEY_MISMATCH'
  | 'CERT_IDENTITY_MISMATCH'
  | 'TLS_PIN_MISMATCH'
  | 'TOKEN_UNAVAILABLE'
  | 'TOKEN_INVALID'
  | 'AUTH_REJECTED'
  | 'ACCESS_DENIED'
  | 'POLICY_DENIED'
  | 'CIRCUIT_OPEN'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CLOSED'
  | 'DEPENDENCY_MISSING';

/** Every {@link ErrorCode}, in a stable order. */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze([
  'CONFIG_INVALID',
  'CERT_INVALID',
  'CERT_EXPIRED',
  'CERT_KEY_MISMATCH',
  'CERT_IDENTITY_MISMATCH',
  'TLS_PIN_MISMATCH',
  'TOKEN_UNAVAILABLE',
  'TOKEN_INVALID',
  'AUTH_REJECTED',
  'ACCESS_DENIED',
  'POLICY_DENIED',
  'CIRCUIT_OPEN',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_ERROR',
  'TIMEOUT',
  'ABORTED',
  'CLOSED',
  'DEPENDENCY_MISSING',
]);

/** The default remediation for each code, used when a throw site gives none. */
export const DEFAULT_REMEDIATION: Readonly<Record<ErrorCode, string>> = Object.freeze({
  CONFIG_INVALID: 'Fix the named configuration field; the message shows what a valid value looks like.',
  CERT_INVALID: 'Check the mounted certificate files (PEM format, chain to the bundle, client-auth usage).',
  CERT_EXPIRED: 'The workload certificate is outside its validity window: check the issuer (cert-manager, SPIRE) renews it and the clock is correct.',
  CERT_KEY_MISMATCH: 'The private key does not belong to the certificate: the files were written by different rotations or mounted from different secrets.',
  CERT_IDENTITY_MISMATCH: 'The certificate URI SAN differs from the configured serviceId: fix serviceId or the certificate issuance.',
  TLS_PIN_MISMATCH: 'The server public key matches none of the configured pins: add the new server key pin before rotating server keys.',
  TOKEN_UNAVAILABLE: 'No usable token could be obtained: check issuer reachability and the token files; cached tokens are served until they expire.',
  TOKEN_INVALID: 'The issuer returned a token that failed local checks: check the issuer configuration (audience, token_type, expires_in).',
  AUTH_REJECTED: 'The credential was definitively rejected: check the client registration at the issuer and the store, and whether the credential was revoked. It is not retried.',
  ACCESS_DENIED: 'The store denied this operation for this identity: grant the role/permission at the store or change the operation. It is not retried.',
  POLICY_DENIED: 'The local least-privilege policy denied this operation before it was sent: add a rule for this service, action and resource if it should be allowed.',
  CIRCUIT_OPEN: 'The circuit breaker for this target is open after repeated transient failures; calls resume after the reset timeout.',
  UPSTREAM_UNAVAILABLE: 'The target is unavailable or overloaded (transient); retries were exhausted or not allowed. Check the target health.',
  UPSTREAM_ERROR: 'The target rejected the request as invalid (permanent); fix the request. It is not retried.',
  TIMEOUT: 'The operation exceeded its deadline; raise the timeout or check the target latency.',
  ABORTED: 'The caller aborted the operation through its AbortSignal.',
  CLOSED: 'The component was closed; create a new one.',
  DEPENDENCY_MISSING: 'Install the optional peer dependency named in the message.',
});
