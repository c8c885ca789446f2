import type { Action, Decision, DecisionRequest, ResourceAccess } from './types.js';
import { splitRequestedResource, splitSpiffePattern, type NameError, type ResourceSystem, type SplitName } from './names.js';

const MEMO_LIMIT = 10_000;

/** A value from an untyped caller as text (for messages). */
export function asText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value;
}

/** Bit of an action, or 0 for anything else (unknown operations deny). */
export function actionBit(action: unknown): number {
  return action === 'read' ? 1 : action === 'write' ? 2 : action === 'admin' ? 4 : 0;
}

/** A deny decision of the request checks. */
export function denyDecision(code: NonNullable<Decision['code']>, reason: string, deniedAccess?: ResourceAccess, remediation?: string): Decision {
  return {
    allowed: false,
    ruleId: undefined,
    reason,
    code,
    ...(deniedAccess === undefined ? {} : { deniedAccess }),
    ...(remediation === undefined ? {} : { remediation }),
  };
}

/**
 * The checks every decision point runs before asking its engine: a SPIFFE
 * subject, at least one access, known actions, resource names that pass the
 * hardening of `names.ts` and belong to the request's system. Split names are
 * memoised per instance (bounded) so the hot path does no string work.
 */
export class RequestChecker {
  readonly #resources = new Map<string, SplitName | NameError>();
  readonly #subjects = new Map<string, readonly string[] | NameError>();

  /** The split resource, or a refusal. */
  resource(name: string, system: ResourceSystem): SplitName | NameError {
    let split = this.#resources.get(name);
    if (split === undefined) {
      split = splitRequestedResource(name);
      if (this.#resources.size >= MEMO_LIMIT) this.#resources.clear();
      this.#resources.set(name, split);
    }
    if (split.error === undefined && split.system !== system) return { error: `a ${split.system} resource in a ${system} operation` };
    return split;
  }

  /** The split subject `[trustDomain, ...path]`, or a refusal. */
  subject(subject: string): readonly string[] | NameError {
    let split = this.#subjects.get(subject);
    if (split === undefined) {
      const s = typeof subject === 'string' && subject.normalize('NFC') === subject ? splitSpiffePattern(subject, false) : { error: 'not a SPIFFE ID' };
      split = s.error === undefined ? s.segments : s;
      if (this.#subjects.size >= MEMO_LIMIT) this.#subjects.clear();
      this.#subjects.set(subject, split);
    }
    return split;
  }

  /** A deny decision when the request is malformed or names a refused resource; undefined when it may be evaluated. */
  check(request: DecisionRequest): Decision | undefined {
    if (typeof request !== 'object' || request === null) return denyDecision('unknown_operation', 'malformed decision request');
    const subject = this.subject(request.subject);
    if (!Array.isArray(subject)) return denyDecision('invalid_subject', `subject refused: ${(subject as NameError).error}`);
    const accesses = request.accesses;
    if (!Array.isArray(accesses) || accesses.length === 0) return denyDecision('unknown_operation', `unknown operation ${JSON.stringify(asText(request.operation))}: it names no resource`);
    for (const access of accesses as readonly ResourceAccess[]) {
      if (actionBit(access.action) === 0) return denyDecision('unknown_operation', `unknown action ${JSON.stringify(asText(access.action))}`, access);
      const split = this.resource(access.resource, request.system);
      if (split.error !== undefined) return denyDecision('invalid_resource', `resource name refused: ${split.error}`, access);
    }
    return undefined;
  }
}

/** The strongest action of a list (admin > write > read). */
export function strongestAction(accesses: readonly ResourceAccess[]): Action | 'unknown' {
  let best = 0;
  for (const a of accesses) best = Math.max(best, actionBit(a.action));
  return best === 4 ? 'admin' : best === 2 ? 'write' : best === 1 ? 'read' : 'unknown';
}
