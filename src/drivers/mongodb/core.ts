import type { Classification, ErrorClassifier, Guard, OperationDescriptor } from '../../resilience/types.js';
import type { ResourceAccess } from '../../policy/types.js';
import type { RotatingMongoClient } from './client-rotation.js';
import type { MongoHost } from './options.js';

/** What every guarded collection and cursor of one client shares. @internal */
export interface MongoCore {
  readonly guard: Guard;
  readonly rotation: RotatingMongoClient;
  /** The adapter's classifier (see classify.ts). */
  readonly classify: ErrorClassifier;
  /**
   * For `getMore`: a lost batch cannot be fetched again (the server cursor is
   * gone after a failure), so a stale credential that survived the driver's
   * own re-authentication is final here.
   */
  readonly classifyGetMore: ErrorClassifier;
  readonly target: string;
  readonly server: MongoHost | undefined;
  readonly audience: string | undefined;
}

/** Wraps a classifier so `stale_credential` is final (getMore). @internal */
export function finalOnStale(classify: ErrorClassifier): ErrorClassifier {
  return (error): Classification => {
    const c = classify(error);
    return c.class === 'stale_credential' ? { ...c, class: 'auth_rejected' } : c;
  };
}

/**
 * Builds one operation descriptor. Every MongoDB descriptor is
 * `idempotent: false` on purpose: the driver already makes the one safe
 * repeat of a retryable read or write (with a transaction number, so a write
 * is applied once), and the guard must not add a second loop on top that
 * multiplies attempts. Transient classifications are `ambiguous`, so the
 * guard counts them for the breaker and reports UPSTREAM_UNAVAILABLE without
 * retrying.
 * @internal
 */
export function describe(core: MongoCore, operation: string, db: string, collection: string, accesses: readonly ResourceAccess[]): OperationDescriptor {
  return {
    system: 'mongodb',
    operation,
    target: core.target,
    accesses,
    idempotent: false,
    namespace: db,
    collection,
    ...(core.server === undefined ? {} : { serverAddress: core.server.host, serverPort: core.server.port }),
    ...(core.audience === undefined ? {} : { audience: core.audience }),
  };
}
