import type { Decision, DecisionRequest, ResourceAccess } from '../policy/types.js';
import { strongestAction } from '../policy/request-check.js';
import type { AuditRecord } from './types.js';

/** Extra facts of a decision or outcome record. */
export interface AuditRecordFacts {
  /** W3C trace id of the operation span. */
  readonly traceId?: string;
  /** Record time; default now. */
  readonly time?: Date;
}

/** Facts of an outcome record. */
export interface OutcomeFacts extends AuditRecordFacts {
  /** `ok` or a SecureNosqlError code. */
  readonly outcome: string;
  readonly durationMs: number;
  readonly attempts?: number;
  /** Correlation id of the error, when any. */
  readonly correlationId?: string;
}

function common(request: DecisionRequest, decision: Decision, kind: AuditRecord['kind'], facts: AuditRecordFacts): AuditRecord {
  const accesses: readonly ResourceAccess[] = Array.isArray(request.accesses) ? request.accesses : [];
  const primary = decision.deniedAccess?.resource ?? accesses[0]?.resource ?? '';
  return {
    time: (facts.time ?? new Date()).toISOString(),
    kind,
    service: request.subject,
    system: request.system,
    operation: request.operation,
    action: strongestAction(accesses),
    resource: primary,
    ...(accesses.length > 1 ? { resources: accesses.map((a) => a.resource) } : {}),
    decision: decision.allowed ? 'allow' : 'deny',
    ...(decision.ruleId === undefined ? {} : { ruleId: decision.ruleId }),
    ...(decision.allowed ? {} : { reason: decision.reason }),
    ...(facts.traceId === undefined ? {} : { traceId: facts.traceId }),
  };
}

/** The audit record of a policy decision (one per operation, before sending). Holds names only: never a document or token. */
export function decisionAuditRecord(request: DecisionRequest, decision: Decision, facts: AuditRecordFacts = {}): AuditRecord {
  return common(request, decision, 'decision', facts);
}

/** The audit record of an operation outcome (one per operation, after the last attempt). */
export function outcomeAuditRecord(request: DecisionRequest, decision: Decision, facts: OutcomeFacts): AuditRecord {
  return {
    ...common(request, decision, 'outcome', facts),
    outcome: facts.outcome,
    durationMs: facts.durationMs,
    ...(facts.attempts === undefined ? {} : { attempts: facts.attempts }),
    ...(facts.correlationId === undefined ? {} : { correlationId: facts.correlationId }),
  };
}
