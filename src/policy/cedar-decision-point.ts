import { randomUUID } from 'node:crypto';
import { SecureNosqlError } from '../errors/index.js';
import { DecisionCache, type DecisionPointStats } from './decision-cache.js';
import type { SplitName } from './names.js';
import { asText, denyDecision, RequestChecker } from './request-check.js';
import type { Decision, DecisionPoint, DecisionRequest, ResourceAccess } from './types.js';

/** Options of {@link CedarDecisionPoint.create}. */
export interface CedarDecisionPointOptions {
  /**
   * Cedar policy text. Entities: principal `SecureNosql::Service::"<spiffe id>"`,
   * action `SecureNosql::Action::"read"|"write"|"admin"`, resource
   * `SecureNosql::Resource::"<name>"` (e.g. `"mongodb:orders/items"`) whose
   * parents are its segment prefixes (`"mongodb:orders"`), so
   * `resource in SecureNosql::Resource::"mongodb:orders"` grants the subtree.
   * Resource attributes: `system`, `name`. Context: `operation`, `system`,
   * `environment` (`""` when none), `utcDay` (0 = Sunday), `utcHour`, `utcMinute`.
   * Name a policy with `@id("orders-rw")` to see that id in decisions.
   */
  readonly policies: string;
  /** How long a decision is reused, ms. Default 1000; 0 disables. */
  readonly cacheTtlMs?: number;
  /** Bound of the decision cache. Default 10,000. */
  readonly cacheMaxEntries?: number;
  /** Clock, ms. Default `Date.now`. */
  readonly clock?: () => number;
  /** Loads the Cedar module; defaults to `import('@cedar-policy/cedar-wasm/nodejs')`. For tests of the missing-dependency path. */
  readonly loadModule?: () => Promise<unknown>;
  /** Aborts `create()`. */
  readonly signal?: AbortSignal;
}

type Answer<T> = ({ type: 'success' } & T) | { type: 'failure' | 'residuals'; errors?: readonly { message: string }[] };
type EntityUid = { type: string; id: string };

/** The part of the Cedar module used here (kept local so our types do not depend on it). */
interface CedarModule {
  policySetTextToParts(text: string): Answer<{ policies: string[]; policy_templates: string[] }>;
  policyToJson(policy: string): Answer<{ json: { annotations?: Record<string, string> } }>;
  preparsePolicySet(id: string, set: { staticPolicies: Record<string, string> }): Answer<object>;
  statefulIsAuthorized(call: {
    principal: EntityUid;
    action: EntityUid;
    resource: EntityUid;
    context: Record<string, unknown>;
    preparsedPolicySetId: string;
    entities: unknown[];
  }): Answer<{ response: { decision: 'allow' | 'deny'; diagnostics: { reason: string[]; errors: unknown[] } } }>;
}

const INSTALL = 'npm i @cedar-policy/cedar-wasm';
const NS = 'SecureNosql::';

function errorsOf(a: { errors?: readonly { message: string }[] }): string {
  return (a.errors ?? []).map((e) => e.message).slice(0, 3).join('; ') || 'unknown error';
}

function isCedarModule(m: unknown): m is CedarModule {
  const c = m as Partial<CedarModule> | undefined;
  return typeof c?.statefulIsAuthorized === 'function' && typeof c.preparsePolicySet === 'function' && typeof c.policySetTextToParts === 'function';
}

/**
 * A decision point evaluated in process by the Cedar engine
 * (`@cedar-policy/cedar-wasm`, an optional peer dependency loaded lazily).
 * Policies are parsed once (`preparsePolicySet`) and decisions cached
 * briefly, since one evaluation costs about 100 µs. `decide()` is
 * synchronous. Engine errors deny. Resource names pass the local hardening first.
 */
export class CedarDecisionPoint implements DecisionPoint {
  readonly #cedar: CedarModule;
  readonly #setId: string;
  readonly #cache: DecisionCache;
  readonly #clock: () => number;
  readonly #checker = new RequestChecker();
  #closed = false;
  #stats = { cacheHits: 0, cacheMisses: 0, evaluations: 0, failures: 0 };

  private constructor(cedar: CedarModule, setId: string, options: CedarDecisionPointOptions) {
    this.#cedar = cedar;
    this.#setId = setId;
    this.#clock = options.clock ?? Date.now;
    this.#cache = new DecisionCache(options.cacheTtlMs ?? 1000, options.cacheMaxEntries ?? 10_000, this.#clock);
  }

  /**
   * Loads Cedar and parses `options.policies` once.
   *
   * @throws SecureNosqlError `DEPENDENCY_MISSING` when the package is not installed; `CONFIG_INVALID` when the policies do not parse.
   */
  static async create(options: CedarDecisionPointOptions): Promise<CedarDecisionPoint> {
    const aborted = (): SecureNosqlError => new SecureNosqlError('ABORTED', 'Creating the Cedar decision point was aborted');
    const isAborted = (): boolean => options.signal?.aborted === true;
    if (isAborted()) throw aborted();
    let mod: unknown;
    try {
      mod = await (options.loadModule ?? (() => import('@cedar-policy/cedar-wasm/nodejs')))();
    } catch (cause) {
      throw new SecureNosqlError('DEPENDENCY_MISSING', `The Cedar decision point needs the optional peer dependency @cedar-policy/cedar-wasm: run \`${INSTALL}\``, {
        cause,
        remediation: `Run \`${INSTALL}\`, or use the local policy matcher instead of Cedar.`,
      });
    }
    if (isAborted()) throw aborted();
    const cedar = (mod as { default?: unknown }).default !== undefined && !isCedarModule(mod) ? (mod as { default: unknown }).default : mod;
    if (!isCedarModule(cedar)) throw new SecureNosqlError('DEPENDENCY_MISSING', `@cedar-policy/cedar-wasm has an unexpected API; run \`${INSTALL}\` to get version 4`);
    if (typeof options.policies !== 'string' || options.policies.trim() === '') {
      throw new SecureNosqlError('CONFIG_INVALID', 'CedarDecisionPoint policies must be non-empty Cedar policy text');
    }
    const parts = cedar.policySetTextToParts(options.policies);
    if (parts.type !== 'success') throw new SecureNosqlError('CONFIG_INVALID', `Cedar policies do not parse: ${errorsOf(parts)}`);
    if (parts.policy_templates.length > 0) throw new SecureNosqlError('CONFIG_INVALID', 'Cedar policy templates are not supported; use static policies');
    const named: Record<string, string> = {};
    parts.policies.forEach((text, i) => {
      const json = cedar.policyToJson(text);
      const id = json.type === 'success' ? (json.json.annotations?.['id'] ?? `policy${i}`) : `policy${i}`;
      if (Object.hasOwn(named, id)) throw new SecureNosqlError('CONFIG_INVALID', `Cedar policy id ${JSON.stringify(id)} is used twice`);
      named[id] = text;
    });
    const setId = `secure-nosql-${randomUUID()}`;
    const parsed = cedar.preparsePolicySet(setId, { staticPolicies: named });
    if (parsed.type !== 'success') throw new SecureNosqlError('CONFIG_INVALID', `Cedar policies do not parse: ${errorsOf(parsed)}`);
    return new CedarDecisionPoint(cedar, setId, options);
  }

  /** Cache and evaluation counters. */
  get stats(): DecisionPointStats {
    return { ...this.#stats };
  }

  /** Decides synchronously; every access must be allowed. Never throws. */
  decide(request: DecisionRequest): Decision {
    if (this.#closed) return denyDecision('unavailable', 'the Cedar decision point is closed');
    const refused = this.#checker.check(request);
    if (refused !== undefined) return refused;
    let last: Decision | undefined;
    for (const access of request.accesses) {
      const d = this.#decideOne(request, access);
      if (!d.allowed) return { ...d, deniedAccess: access };
      last = d;
    }
    return last ?? denyDecision('unknown_operation', 'no accesses');
  }

  #decideOne(request: DecisionRequest, access: ResourceAccess): Decision {
    const split = this.#checker.resource(access.resource, request.system) as SplitName;
    const nowMs = request.context?.now?.getTime() ?? this.#clock();
    const env = request.context?.environment ?? '';
    const minute = Math.floor(nowMs / 60_000);
    const key = `${request.subject}\n${access.action}\n${split.normalized}\n${request.operation}\n${env}\n${minute}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#stats.cacheHits++;
      return cached;
    }
    this.#stats.cacheMisses++;
    const d = this.#evaluate(request, access, split, env, nowMs);
    if (d.code !== 'error') this.#cache.set(key, d);
    return d;
  }

  #evaluate(request: DecisionRequest, access: ResourceAccess, split: SplitName, env: string, nowMs: number): Decision {
    this.#stats.evaluations++;
    const resource = { type: `${NS}Resource`, id: split.normalized };
    const entities: unknown[] = [];
    // The resource and each segment prefix, each the parent of the next.
    let parent: EntityUid | undefined;
    for (let i = 1; i <= split.segments.length; i++) {
      const id = `${split.system}:${split.segments.slice(0, i).join('/')}`;
      const uid = i === split.segments.length ? resource : { type: `${NS}Resource`, id };
      entities.push({ uid, attrs: { system: split.system, name: id }, parents: parent === undefined ? [] : [parent] });
      parent = uid;
    }
    const principal = { type: `${NS}Service`, id: request.subject };
    entities.push({ uid: principal, attrs: {}, parents: [] });
    const minuteOfDay = Math.floor(nowMs / 60_000) % 1440;
    try {
      const answer = this.#cedar.statefulIsAuthorized({
        principal,
        action: { type: `${NS}Action`, id: access.action },
        resource,
        context: {
          operation: asText(request.operation),
          system: request.system,
          environment: env,
          utcDay: (Math.floor(nowMs / 86_400_000) + 4) % 7,
          utcHour: Math.floor(minuteOfDay / 60),
          utcMinute: minuteOfDay % 60,
        },
        preparsedPolicySetId: this.#setId,
        entities,
      });
      if (answer.type !== 'success') {
        this.#stats.failures++;
        return denyDecision('error', `the Cedar engine failed: ${errorsOf(answer)}`, undefined, 'Check the Cedar policies; an engine error denies the operation.');
      }
      const { decision, diagnostics } = answer.response;
      const ruleId = diagnostics.reason[0];
      if (decision === 'allow') return { allowed: true, ruleId, reason: `allowed by Cedar policy ${ruleId ?? ''}`.trim(), code: 'allowed' };
      if (ruleId !== undefined) return { allowed: false, ruleId, reason: `forbidden by Cedar policy ${ruleId}`, code: 'explicit_deny' };
      return { allowed: false, ruleId: undefined, reason: `no Cedar policy permits ${access.action} on ${split.normalized}`, code: 'no_match' };
    } catch {
      this.#stats.failures++;
      return denyDecision('error', 'the Cedar engine threw', undefined, 'Check the Cedar policies and the @cedar-policy/cedar-wasm installation.');
    }
  }

  /** Drops the cache and releases the pre-parsed policy set. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#cache.clear();
    try {
      // The engine keeps pre-parsed sets by id; replace ours with an empty set to free it.
      this.#cedar.preparsePolicySet(this.#setId, { staticPolicies: {} });
    } catch {
      // nothing else to release
    }
    return Promise.resolve();
  }
}
