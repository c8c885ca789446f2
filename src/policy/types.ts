/** The action classes a policy grants. */
export type Action = 'read' | 'write' | 'admin';

/** One resource touched by an operation, with the action it needs. */
export interface ResourceAccess {
  /** `mongodb:<db>/<collection>`, `dynamodb:<table>[/index/<name>]` or `http:<origin><path>`. */
  readonly resource: string;
  readonly action: Action;
}

/** What a decision point is asked. */
export interface DecisionRequest {
  /** The calling service's SPIFFE ID. */
  readonly subject: string;
  /** Every resource the operation touches; all must be allowed. Empty means unknown: denied. */
  readonly accesses: readonly ResourceAccess[];
  /** The driver operation name (`find`, `PutItem`, `GET`). */
  readonly operation: string;
  /** The store kind. */
  readonly system: 'mongodb' | 'dynamodb' | 'http';
  /** Evaluation context. */
  readonly context?: DecisionContext;
}

/** Facts conditions may test. */
export interface DecisionContext {
  /** Deployment environment label, e.g. `prod`. */
  readonly environment?: string;
  /** Evaluation time; defaults to now. */
  readonly now?: Date;
}

/** A decision. */
export interface Decision {
  readonly allowed: boolean;
  /** The rule that allowed (or, for an explicit deny, denied); absent for default deny. */
  readonly ruleId: string | undefined;
  /** Human-readable, non-secret reason. */
  readonly reason: string;
  /** For a deny: the first access that was not allowed. */
  readonly deniedAccess?: ResourceAccess;
  /** Machine-readable class of the decision, for metrics and audit (additive; absent from older decision points). */
  readonly code?: DecisionCode;
  /** For a deny: what to do about it (e.g. that the decision point is unreachable). */
  readonly remediation?: string;
}

/**
 * Why a decision came out as it did: `allowed`; `no_match` (default deny);
 * `explicit_deny` (a deny rule); `condition` (a rule matched but its
 * environment/time condition failed); `rate` (its rate was exceeded);
 * `invalid_resource` / `invalid_subject` (a refused name); `unknown_operation`
 * (no accesses or an unknown action); `unavailable` / `invalid_answer` (a
 * remote decision point could not answer); `error` (an engine error).
 */
export type DecisionCode =
  | 'allowed'
  | 'no_match'
  | 'explicit_deny'
  | 'condition'
  | 'rate'
  | 'invalid_resource'
  | 'invalid_subject'
  | 'unknown_operation'
  | 'unavailable'
  | 'invalid_answer'
  | 'error';

/**
 * Decides operations before they leave the process. A local matcher answers
 * synchronously; remote ones return a promise. Implementations fail closed.
 */
export interface DecisionPoint {
  /** Decides `request`. Must not throw: errors become a deny. */
  decide(request: DecisionRequest, signal?: AbortSignal): Decision | Promise<Decision>;
  /** Releases timers and sockets. */
  close?(): Promise<void>;
}
