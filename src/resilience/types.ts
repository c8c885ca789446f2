import type { ResourceAccess } from '../policy/types.js';

/** The classes of DESIGN.md §5. */
export type FailureClass = 'stale_credential' | 'auth_rejected' | 'access_denied' | 'transient' | 'permanent';

/** An adapter's reading of one driver error. */
export interface Classification {
  readonly class: FailureClass;
  /** Short, non-secret reason for metrics and audit, e.g. `mongo_18`, `http_503`. */
  readonly reason: string;
  /** Server-requested delay (`Retry-After`), ms. */
  readonly retryAfterMs?: number;
  /**
   * True when the request may have been applied (timeout or reset after
   * sending): a non-idempotent operation is then not retried unless opted in.
   */
  readonly ambiguous?: boolean;
}

/** Maps a driver error to its class. Must not throw. */
export type ErrorClassifier = (error: unknown) => Classification;

/** What one guarded operation is. Built by adapters; keep it cheap (reuse static parts). */
export interface OperationDescriptor {
  readonly system: 'mongodb' | 'dynamodb' | 'http';
  /** `db.operation.name` / HTTP method. */
  readonly operation: string;
  /** Breaker and retry-budget key, e.g. `mongodb://orders-db:27017`. */
  readonly target: string;
  /** Policy input: every resource touched with its action. */
  readonly accesses: readonly ResourceAccess[];
  /** Safe to repeat after an ambiguous failure. */
  readonly idempotent: boolean;
  /** Span name; defaults to `{operation} {collection}` or `{operation}`. */
  readonly spanName?: string;
  /** `db.namespace` (database / table owner). */
  readonly namespace?: string;
  /** `db.collection.name` (collection / table). */
  readonly collection?: string;
  /** HTTP route template for spans. */
  readonly route?: string;
  readonly serverAddress?: string;
  readonly serverPort?: number;
  /** Token audience, for `secure_nosql.audience`. */
  readonly audience?: string;
}

/**
 * How the pipeline gets and drops a credential. `acquire` runs before each
 * attempt; on a stale credential the pipeline calls `invalidate` with what
 * `acquire` returned, then acquires again (with `forceRefresh`) once.
 */
export interface CredentialHook<C> {
  acquire(signal: AbortSignal | undefined, forceRefresh: boolean): Promise<C>;
  invalidate(credential: C): void;
}

/** What an attempt function receives. */
export interface AttemptContext<C> {
  /** 1-based attempt number. */
  readonly attempt: number;
  /** The credential from the hook (undefined without a hook). */
  readonly credential: C;
  /** The caller's signal, if any. */
  readonly signal: AbortSignal | undefined;
}

/** Per-call options. */
export interface GuardCallOptions {
  readonly signal?: AbortSignal;
  /** Retry a non-idempotent operation after an ambiguous transient failure. */
  readonly retryNonIdempotent?: boolean;
}

/** One guarded call, as an adapter hands it to {@link Guard.run}. */
export interface GuardedCall<T, C> {
  readonly op: OperationDescriptor;
  /** Performs one attempt with the driver. */
  readonly attempt: (ctx: AttemptContext<C>) => Promise<T>;
  /** The adapter's error classifier. */
  readonly classify: ErrorClassifier;
  /** Credential hook; absent when the driver authenticates by itself. */
  readonly credential?: CredentialHook<C>;
  readonly signal?: AbortSignal;
  /** Retry a non-idempotent operation after an ambiguous transient failure. */
  readonly retryNonIdempotent?: boolean;
}

/**
 * The shared pipeline every adapter calls: span ▸ policy + audit ▸ retry
 * budget ▸ breaker ▸ auth-aware retry ▸ attempt. Failures surface as
 * SecureNosqlError with the codes of DESIGN.md §5.
 */
export interface Guard {
  run<T, C = undefined>(call: GuardedCall<T, C>): Promise<T>;
}
