import type { Action } from '../policy/types.js';

/** One audit record. Never carries a token, key or document body. */
export interface AuditRecord {
  /** ISO-8601 time. */
  readonly time: string;
  /** `decision` before sending, `outcome` after, `anomaly` from the detector. */
  readonly kind: 'decision' | 'outcome' | 'anomaly';
  /** The service's SPIFFE ID. */
  readonly service: string;
  readonly system: 'mongodb' | 'dynamodb' | 'http';
  /** Driver operation name. */
  readonly operation: string;
  /** Primary action (the strongest one when several). */
  readonly action: Action | 'unknown';
  /** Primary resource; `resources` lists all when several. */
  readonly resource: string;
  readonly resources?: readonly string[];
  readonly decision: 'allow' | 'deny';
  readonly ruleId?: string;
  /** `ok` or a SecureNosqlError code. Outcome and anomaly records. */
  readonly outcome?: string;
  /** Operation duration in ms (outcome records). */
  readonly durationMs?: number;
  /** Attempts made (outcome records). */
  readonly attempts?: number;
  /** W3C trace id of the operation span, when tracing is active. */
  readonly traceId?: string;
  /** Correlation id of the error, when any. */
  readonly correlationId?: string;
  /** Short non-secret reason (deny reason, anomaly kind). */
  readonly reason?: string;
}

/** Where audit records go. `write` must not throw or block; slow sinks buffer and drop. */
export interface AuditSink {
  write(record: AuditRecord): void;
  /** Flushes and releases resources. */
  close?(): Promise<void>;
}
