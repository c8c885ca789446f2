import type { Decision, DecisionPoint, DecisionRequest, ResourceAccess } from './types.js';
import { validatePolicyDocument, type PolicyDocument } from './document.js';
import { compileRule, inWindow, TokenBucket, type CompiledRule } from './compiled-rule.js';
import { matchSegments, splitSpiffePattern, ONE_SEGMENT, ANY_SEGMENTS, type ResourceSystem, type SplitName } from './names.js';
import { actionBit, asText, denyDecision, RequestChecker } from './request-check.js';

/** Options of {@link compilePolicy}. */
export interface LocalPolicyOptions {
  /** Milliseconds since the epoch; used for time windows (unless the request carries `context.now`) and rate buckets. Default `Date.now`. */
  readonly clock?: () => number;
  /** Environment label used when a request's context has none. */
  readonly environment?: string;
}

/** One evaluated condition, as {@link PolicyExplanation} reports it. */
export interface ConditionResult {
  readonly condition: 'environment' | 'timeWindow' | 'rate';
  readonly passed: boolean;
  readonly detail: string;
}

/** A rule whose pattern and action matched an access. */
export interface RuleEvaluation {
  readonly ruleId: string;
  readonly effect: 'allow' | 'deny';
  /** The pattern that matched. */
  readonly pattern: string;
  /** True when every condition held (the rule applied). */
  readonly applies: boolean;
  readonly conditions: readonly ConditionResult[];
}

/** How one access was decided. */
export interface AccessExplanation {
  readonly access: ResourceAccess;
  readonly allowed: boolean;
  /** The deciding rule; absent for default deny and refused names. */
  readonly ruleId?: string;
  /** `allowed by rule x`, `no rule matched`, a refusal reason, … */
  readonly reason: string;
  /** Rules whose pattern and action matched, in evaluation order (deny rules first). */
  readonly evaluated: readonly RuleEvaluation[];
}

/** What `explain()` returns: the decision and, per access, the rule that decided it and why. */
export interface PolicyExplanation {
  readonly decision: Decision;
  readonly subject: string;
  /** Ids of the policy services whose id or pattern matched the subject. */
  readonly matchedServices: readonly string[];
  readonly accesses: readonly AccessExplanation[];
}

interface Bucketed {
  readonly byFirst: Map<string, CompiledRule[]>;
  readonly wild: CompiledRule[];
}

interface SubjectIndex {
  readonly services: readonly string[];
  readonly allow: Readonly<Record<ResourceSystem, Bucketed>>;
  readonly deny: Readonly<Record<ResourceSystem, Bucketed>>;
  readonly hasDeny: boolean;
  readonly buckets: Map<CompiledRule, TokenBucket>;
}

interface CompiledService {
  readonly id: string;
  readonly segments: readonly string[];
  readonly rules: readonly CompiledRule[];
}

const SUBJECT_MEMO_LIMIT = 4096;
const NO_MATCH = 'no rule matched';

function emptyBuckets(): Record<ResourceSystem, Bucketed> {
  return {
    mongodb: { byFirst: new Map(), wild: [] },
    dynamodb: { byFirst: new Map(), wild: [] },
    http: { byFirst: new Map(), wild: [] },
  };
}

type Outcome = { ok: true; rule: CompiledRule } | { ok: false; code: 'no_match' | 'explicit_deny' | 'condition' | 'rate'; rule?: CompiledRule; detail?: string };
type Failure = Extract<Outcome, { ok: false }>;
const NO_MATCH_OUTCOME: Failure = { ok: false, code: 'no_match' };

/**
 * The default decision point: a policy document compiled once into an index
 * by subject and by resource system and first segment. `decide()` is
 * synchronous and allocates nothing on the allow path. Default deny; a
 * matching deny rule wins over any allow; every access of a request must be
 * allowed. Names are checked by the hardening of `names.ts` first.
 */
export class LocalDecisionPoint implements DecisionPoint {
  /** The validated document this matcher was compiled from. */
  readonly document: PolicyDocument;
  /** Number of rules. */
  readonly ruleCount: number;
  readonly #services: readonly CompiledService[];
  readonly #checker = new RequestChecker();
  readonly #subjects = new Map<string, SubjectIndex>();
  readonly #clock: () => number;
  readonly #environment: string | undefined;

  /**
   * Validates and compiles `document`.
   *
   * @throws SecureNosqlError `CONFIG_INVALID` when the document is invalid (fail closed).
   */
  constructor(document: unknown, options: LocalPolicyOptions = {}) {
    this.document = validatePolicyDocument(document);
    this.#clock = options.clock ?? Date.now;
    this.#environment = options.environment;
    this.#services = this.document.services.map((s) => {
      const split = splitSpiffePattern(s.id);
      if (split.error !== undefined) throw new Error('unvalidated service id');
      return { id: s.id, segments: split.segments, rules: s.rules.map(compileRule) };
    });
    this.ruleCount = this.#services.reduce((n, s) => n + s.rules.length, 0);
  }

  #index(subject: string, segments: readonly string[]): SubjectIndex {
    let idx = this.#subjects.get(subject);
    if (idx !== undefined) return idx;
    const allow = emptyBuckets();
    const deny = emptyBuckets();
    const services: string[] = [];
    let hasDeny = false;
    for (const svc of this.#services) {
      if (!matchSegments(svc.segments, segments)) continue;
      services.push(svc.id);
      for (const rule of svc.rules) {
        if (rule.deny) hasDeny = true;
        const target = rule.deny ? deny : allow;
        for (const p of rule.patterns) {
          const b = target[p.system];
          const first = p.segments[0] ?? '';
          if (first === ONE_SEGMENT || first === ANY_SEGMENTS) {
            if (!b.wild.includes(rule)) b.wild.push(rule);
          } else {
            const list = b.byFirst.get(first) ?? [];
            if (!list.includes(rule)) list.push(rule);
            b.byFirst.set(first, list);
          }
        }
      }
    }
    idx = { services, allow, deny, hasDeny, buckets: new Map() };
    if (this.#subjects.size >= SUBJECT_MEMO_LIMIT) this.#subjects.clear();
    this.#subjects.set(subject, idx);
    return idx;
  }

  #matches(rule: CompiledRule, name: SplitName, bit: number): string | undefined {
    if ((rule.actionMask & bit) === 0) return undefined;
    for (const p of rule.patterns) {
      if (p.system === name.system && matchSegments(p.segments, name.segments)) return p.text;
    }
    return undefined;
  }

  /** Evaluates one rule's conditions; `trace` (explain) collects results and never consumes rate tokens. */
  #conditions(idx: SubjectIndex, rule: CompiledRule, env: string | undefined, timeMs: number, trace: ConditionResult[] | undefined): Outcome {
    if (rule.environments !== undefined) {
      const passed = env !== undefined && rule.environments.has(env);
      trace?.push({ condition: 'environment', passed, detail: `environment ${env === undefined ? '(none)' : JSON.stringify(env)} in [${[...rule.environments].join(', ')}]` });
      if (!passed) return { ok: false, code: 'condition', rule, detail: 'environment' };
    }
    if (rule.window !== undefined) {
      const passed = inWindow(rule.window, timeMs);
      trace?.push({ condition: 'timeWindow', passed, detail: `${new Date(timeMs).toISOString()} within ${rule.window.text}` });
      if (!passed) return { ok: false, code: 'condition', rule, detail: 'time window' };
    }
    if (rule.rate !== undefined && !rule.deny) {
      const now = this.#clock();
      let bucket = idx.buckets.get(rule);
      if (bucket === undefined) {
        bucket = new TokenBucket(rule.rate.perSecond, rule.rate.burst, now);
        idx.buckets.set(rule, bucket);
      }
      const passed = trace === undefined ? bucket.take(now) : bucket.peek(now);
      trace?.push({ condition: 'rate', passed, detail: `${rule.rate.perSecond}/s, burst ${rule.rate.burst}` });
      if (!passed) return { ok: false, code: 'rate', rule };
    }
    return { ok: true, rule };
  }

  #candidates(b: Bucketed, name: SplitName): [CompiledRule[] | undefined, CompiledRule[]] {
    return [b.byFirst.get(name.segments[0] ?? ''), b.wild];
  }

  #evaluate(idx: SubjectIndex, name: SplitName, bit: number, env: string | undefined, timeMs: number, trace: RuleEvaluation[] | undefined): Outcome {
    if (idx.hasDeny) {
      for (const list of this.#candidates(idx.deny[name.system], name)) {
        if (list === undefined) continue;
        for (const rule of list) {
          const pattern = this.#matches(rule, name, bit);
          if (pattern === undefined) continue;
          const conds: ConditionResult[] | undefined = trace === undefined ? undefined : [];
          const o = this.#conditions(idx, rule, env, timeMs, conds);
          if (trace !== undefined && conds !== undefined) trace.push({ ruleId: rule.id, effect: 'deny', pattern, applies: o.ok, conditions: conds });
          if (o.ok) return { ok: false, code: 'explicit_deny', rule };
        }
      }
    }
    let failure: Failure = NO_MATCH_OUTCOME;
    const b = idx.allow[name.system];
    const exact = b.byFirst.get(name.segments[0] ?? '');
    for (let pass = 0; pass < 2; pass++) {
      const list = pass === 0 ? exact : b.wild;
      if (list === undefined) continue;
      for (const rule of list) {
        const pattern = this.#matches(rule, name, bit);
        if (pattern === undefined) continue;
        const conds: ConditionResult[] | undefined = trace === undefined ? undefined : [];
        const o = this.#conditions(idx, rule, env, timeMs, conds);
        if (trace !== undefined && conds !== undefined) trace.push({ ruleId: rule.id, effect: 'allow', pattern, applies: o.ok, conditions: conds });
        if (o.ok) return o;
        // Prefer reporting a rate failure over a condition failure over no match.
        if (failure.code === 'no_match' || (o.code === 'rate' && failure.code === 'condition')) failure = o;
      }
    }
    return failure;
  }

  #toDecision(o: Outcome, access: ResourceAccess): Decision {
    if (o.ok) return o.rule.allowDecision;
    switch (o.code) {
      case 'explicit_deny':
        return { allowed: false, ruleId: o.rule?.id, reason: `denied by rule ${o.rule?.id ?? ''} for ${access.action} on ${access.resource}`, code: 'explicit_deny', deniedAccess: access };
      case 'rate':
        return { allowed: false, ruleId: o.rule?.id, reason: `rate of rule ${o.rule?.id ?? ''} exceeded`, code: 'rate', deniedAccess: access };
      case 'condition':
        return { allowed: false, ruleId: undefined, reason: `rule ${o.rule?.id ?? ''} matched ${access.action} on ${access.resource} but its ${o.detail ?? ''} condition does not hold`, code: 'condition', deniedAccess: access };
      default:
        return { allowed: false, ruleId: undefined, reason: `${NO_MATCH} for ${access.action} on ${access.resource}`, code: 'no_match', deniedAccess: access };
    }
  }

  /** Decides synchronously. Never throws: anything unexpected denies. */
  decide(request: DecisionRequest): Decision {
    try {
      const refused = this.#checker.check(request);
      if (refused !== undefined) return refused;
      const segments = this.#checker.subject(request.subject) as readonly string[];
      const idx = this.#index(request.subject, segments);
      const ctx = request.context;
      const env = ctx?.environment ?? this.#environment;
      const timeMs = ctx?.now?.getTime() ?? this.#clock();
      let last: Decision | undefined;
      for (const access of request.accesses) {
        const name = this.#checker.resource(access.resource, request.system) as SplitName;
        const o = this.#evaluate(idx, name, actionBit(access.action), env, timeMs, undefined);
        if (!o.ok) return this.#toDecision(o, access);
        last = o.rule.allowDecision;
      }
      return last ?? denyDecision('unknown_operation', 'no accesses');
    } catch {
      return denyDecision('error', 'the policy could not be evaluated');
    }
  }

  /** Explains how `request` would be decided: per access, the deciding rule and the conditions evaluated. Consumes no rate tokens. */
  explain(request: DecisionRequest): PolicyExplanation {
    const refused = this.#checker.check(request);
    const subjectSplit = typeof request.subject === 'string' ? this.#checker.subject(request.subject) : { error: 'no subject' };
    const idx = Array.isArray(subjectSplit) ? this.#index(request.subject, subjectSplit as readonly string[]) : undefined;
    const ctx = request.context;
    const env = ctx?.environment ?? this.#environment;
    const timeMs = ctx?.now?.getTime() ?? this.#clock();
    const accesses: AccessExplanation[] = [];
    let decision: Decision | undefined = refused;
    const list: readonly ResourceAccess[] = Array.isArray(request.accesses) ? request.accesses : [];
    for (const access of list) {
      const name = this.#checker.resource(access.resource, request.system);
      if (idx === undefined || name.error !== undefined || actionBit(access.action) === 0) {
        const reason = name.error !== undefined ? `resource name refused: ${name.error}` : idx === undefined ? 'subject refused' : `unknown action ${JSON.stringify(asText(access.action))}`;
        accesses.push({ access, allowed: false, reason, evaluated: [] });
        continue;
      }
      const trace: RuleEvaluation[] = [];
      const o = this.#evaluate(idx, name, actionBit(access.action), env, timeMs, trace);
      const d = this.#toDecision(o, access);
      decision ??= d.allowed ? undefined : d;
      accesses.push({ access, allowed: d.allowed, ...(o.rule === undefined ? {} : { ruleId: o.rule.id }), reason: o.ok ? d.reason : trace.length === 0 ? NO_MATCH : d.reason, evaluated: trace });
    }
    decision ??= accesses.length === 0 ? denyDecision('unknown_operation', 'no accesses') : (accesses.at(-1)?.ruleId !== undefined ? { allowed: true, ruleId: accesses.at(-1)?.ruleId, reason: `allowed by rule ${accesses.at(-1)?.ruleId ?? ''}`, code: 'allowed' } : denyDecision('error', 'inconsistent'));
    return { decision, subject: asText(request.subject), matchedServices: idx?.services ?? [], accesses };
  }

  /** Nothing to release; present for the {@link DecisionPoint} shape. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Validates and compiles a policy document into a {@link LocalDecisionPoint}.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when the document is invalid.
 */
export function compilePolicy(document: unknown, options: LocalPolicyOptions = {}): LocalDecisionPoint {
  return new LocalDecisionPoint(document, options);
}
