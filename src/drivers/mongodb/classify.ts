import { isSecureNosqlError, type SecureNosqlError } from '../../errors/index.js';
import type { Classification } from '../../resilience/types.js';

/** What the classifier reports back to the OIDC bridge (it must not throw). @internal */
export interface AuthFailureObserver {
  /** A token the driver last authenticated with was rejected (18) or needs re-authentication (391). Returns true when that token was a freshly fetched one. */
  credentialRejected(code: number): boolean;
}

const RETRYABLE_LABELS = ['RetryableWriteError', 'ResetPool', 'SystemOverloadedError', 'RetryableError', 'TransientTransactionError', 'InterruptInUseConnections', 'PoolRequestedRetry'];

// Server codes the driver's retryable reads/writes treat as transient (plus a few close relatives).
const TRANSIENT_CODES: ReadonlySet<number> = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 462, 50915]);

const NETWORK_NAMES: ReadonlySet<string> = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'PoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoWaitQueueTimeoutError',
  'WaitQueueTimeoutError',
  'MongoOperationTimeoutError',
  'MongoServerClosedError',
]);

function labelsOf(error: { errorLabels?: unknown; hasErrorLabel?: unknown }): string[] {
  const labels = (error as { errorLabels?: unknown }).errorLabels;
  return Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [];
}

function nameChain(error: object): string[] {
  const names: string[] = [];
  let proto: unknown = Object.getPrototypeOf(error);
  while (proto !== null && typeof proto === 'object' && names.length < 8) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.push(ctor.name);
    proto = Object.getPrototypeOf(proto);
  }
  const own = (error as { name?: unknown }).name;
  if (typeof own === 'string') names.push(own);
  return names;
}

/**
 * Classifies a `mongodb` driver error (DESIGN.md §5) without `instanceof`, so
 * it works with any copy of the driver:
 *
 * - 391 ReauthenticationRequired surfacing means the driver's own
 *   re-authentication and single retry already failed → `stale_credential`
 *   (the guard refreshes once; the OIDC bridge forces a fresh token).
 * - 18 AuthenticationFailed → `stale_credential` when the rejected token came
 *   from the cache (it may have been revoked), `auth_rejected` when it was
 *   freshly fetched after an earlier rejection.
 * - 13 Unauthorized → `access_denied`.
 * - Network errors, server selection failures and retryable labels/codes →
 *   `transient` and `ambiguous`: the driver has already spent its one
 *   retryable read/write (or its server-selection wait) on them, so the
 *   guard counts them for the breaker but must not start a second retry loop
 *   (descriptors are marked non-idempotent for the same reason).
 * - Everything else → `permanent`.
 * @internal
 */
export function createMongoClassifier(observer: AuthFailureObserver | undefined): (error: unknown) => Classification {
  return (error) => {
    if (error === null || typeof error !== 'object') return { class: 'permanent', reason: 'mongo_unknown' };
    const code = (error as { code?: unknown }).code;
    if (code === 391) {
      observer?.credentialRejected(391);
      return { class: 'stale_credential', reason: 'mongo_391' };
    }
    if (code === 18) {
      const fresh = observer?.credentialRejected(18) ?? true;
      return { class: fresh ? 'auth_rejected' : 'stale_credential', reason: 'mongo_18' };
    }
    if (code === 13) return { class: 'access_denied', reason: 'mongo_13' };
    const names = nameChain(error);
    if (names.some((n) => NETWORK_NAMES.has(n))) {
      const selection = names.includes('MongoServerSelectionError');
      return { class: 'transient', reason: selection ? 'mongo_server_selection' : 'mongo_network', ambiguous: true };
    }
    const labels = labelsOf(error);
    if (labels.some((l) => RETRYABLE_LABELS.includes(l)) || (typeof code === 'number' && TRANSIENT_CODES.has(code))) {
      return { class: 'transient', reason: typeof code === 'number' ? `mongo_${code}` : 'mongo_retryable', ambiguous: true };
    }
    if (names.includes('MongoMissingCredentialsError') || names.includes('MongoOIDCError')) return { class: 'auth_rejected', reason: 'mongo_oidc' };
    return { class: 'permanent', reason: typeof code === 'number' ? `mongo_${code}` : 'mongo_error' };
  };
}

const SECURITY_CODES: ReadonlySet<string> = new Set(['CERT_IDENTITY_MISMATCH', 'TLS_PIN_MISMATCH', 'CERT_INVALID', 'CERT_EXPIRED']);

/**
 * Finds a server-verification failure (SPIFFE ID or pin mismatch raised by our
 * `checkServerIdentity`) that the driver buried inside a network or
 * server-selection error, so it surfaces with its own code instead of as a
 * generic transient failure.
 * @internal
 */
export function findVerificationError(error: unknown): SecureNosqlError | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): SecureNosqlError | undefined => {
    if (value === null || typeof value !== 'object' || depth > 6 || seen.has(value)) return undefined;
    seen.add(value);
    if (isSecureNosqlError(value)) return SECURITY_CODES.has(value.code) ? value : undefined;
    const found = visit((value as { cause?: unknown }).cause, depth + 1);
    if (found !== undefined) return found;
    const servers = (value as { reason?: { servers?: unknown } }).reason?.servers;
    if (servers instanceof Map) {
      for (const description of servers.values()) {
        const hit = visit((description as { error?: unknown } | null)?.error, depth + 1);
        if (hit !== undefined) return hit;
      }
    }
    return undefined;
  };
  return visit(error, 0);
}
