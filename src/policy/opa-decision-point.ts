import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { SecureNosqlError } from '../errors/index.js';
import { DecisionCache, type DecisionPointStats } from './decision-cache.js';
import type { SplitName } from './names.js';
import { denyDecision, RequestChecker } from './request-check.js';
import type { Decision, DecisionPoint, DecisionRequest, ResourceAccess } from './types.js';

/** Options of {@link OpaDecisionPoint}. */
export interface OpaDecisionPointOptions {
  /** OPA base URL, e.g. `http://127.0.0.1:8181`. */
  readonly url: string;
  /** Data path of the rule, e.g. `secure_nosql/allow` (queried as `POST {url}/v1/data/secure_nosql/allow`). */
  readonly path: string;
  /** Per-request timeout, ms. Default 500. */
  readonly timeoutMs?: number;
  /** How long an answer is reused, ms. Default 1000; 0 disables the cache. */
  readonly cacheTtlMs?: number;
  /** Bound of the decision cache. Default 10,000. */
  readonly cacheMaxEntries?: number;
  /** Extra request headers (e.g. an OPA bearer token). Never logged or put in decisions. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Dispatcher to use (e.g. an mTLS `Agent`); a private keep-alive `Agent` is created (and closed) otherwise. */
  readonly dispatcher?: Dispatcher;
  /** Largest accepted answer, bytes. Default 65,536. */
  readonly maxResponseBytes?: number;
  /** Clock for the cache, ms. Default `Date.now`. */
  readonly clock?: () => number;
}

const PATH = /^[A-Za-z0-9_]+(?:\/[A-Za-z0-9_]+)*$/;
const UNREACHABLE_REMEDIATION =
  'The policy decision point (OPA) could not be reached or timed out, so the operation was denied (fail closed). Check the OPA service, its URL and the timeout.';
const INVALID_REMEDIATION =
  'The policy decision point (OPA) answered invalidly, so the operation was denied (fail closed). The rule must evaluate to true/false or to { allow: boolean, rule_id?, reason? }; check that the data path exists.';

function clean(value: unknown, max = 200): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);
}

/**
 * A remote decision point speaking OPA's REST data API: one
 * `POST {url}/v1/data/<path>` per access with `{ input: { subject, action,
 * resource, context } }`; answers `{ result: boolean }` or `{ result: { allow,
 * rule_id?, reason? } }`. Answers are cached briefly (bounded) and identical
 * concurrent questions share one call. Unreachable, timeout, non-2xx or an
 * invalid answer → deny with code `unavailable` / `invalid_answer` and a
 * remediation saying so. Resource names pass the local hardening first.
 */
export class OpaDecisionPoint implements DecisionPoint {
  readonly #endpoint: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: Agent | undefined;
  readonly #cache: DecisionCache;
  readonly #inflight = new Map<string, Promise<Decision>>();
  readonly #checker = new RequestChecker();
  #closed = false;
  #stats = { cacheHits: 0, cacheMisses: 0, evaluations: 0, failures: 0 };

  /** @throws SecureNosqlError `CONFIG_INVALID` for a bad URL or path. */
  constructor(options: OpaDecisionPointOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch (cause) {
      throw new SecureNosqlError('CONFIG_INVALID', 'OpaDecisionPoint url is not a valid URL', { cause, remediation: 'Set url to the OPA base URL, e.g. http://opa:8181.' });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new SecureNosqlError('CONFIG_INVALID', 'OpaDecisionPoint url must be http: or https:');
    if (base.username !== '' || base.password !== '') throw new SecureNosqlError('CONFIG_INVALID', 'OpaDecisionPoint url must not contain credentials; use headers');
    if (!PATH.test(options.path)) {
      throw new SecureNosqlError('CONFIG_INVALID', `OpaDecisionPoint path ${JSON.stringify(options.path)} is invalid`, { remediation: 'Use a data path such as secure_nosql/allow (letters, digits, _ and /).' });
    }
    this.#endpoint = `${base.origin}${base.pathname.replace(/\/+$/, '')}/v1/data/${options.path}`;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    this.#timeoutMs = options.timeoutMs ?? 500;
    this.#maxBytes = options.maxResponseBytes ?? 65_536;
    this.#ownDispatcher = options.dispatcher === undefined ? new Agent({ keepAliveTimeout: 10_000 }) : undefined;
    this.#dispatcher = options.dispatcher ?? (this.#ownDispatcher as Agent);
    this.#cache = new DecisionCache(options.cacheTtlMs ?? 1000, options.cacheMaxEntries ?? 10_000, options.clock ?? Date.now);
  }

  /** Cache and call counters. */
  get stats(): DecisionPointStats {
    return { ...this.#stats };
  }

  /** Decides every access (in parallel); all must be allowed. Never rejects. */
  async decide(request: DecisionRequest, signal?: AbortSignal): Promise<Decision> {
    if (this.#closed) return denyDecision('unavailable', 'the OPA decision point is closed', undefined, UNREACHABLE_REMEDIATION);
    const refused = this.#checker.check(request);
    if (refused !== undefined) return refused;
    const decisions = await Promise.all(request.accesses.map((access) => this.#decideOne(request, access, signal)));
    for (const d of decisions) if (!d.allowed) return d;
    return decisions[decisions.length - 1] ?? denyDecision('unknown_operation', 'no accesses');
  }

  #decideOne(request: DecisionRequest, access: ResourceAccess, signal: AbortSignal | undefined): Promise<Decision> {
    const name = (this.#checker.resource(access.resource, request.system) as SplitName).normalized;
    const env = request.context?.environment;
    const key = `${request.subject}\n${access.action}\n${name}\n${request.system}\n${request.operation}\n${env ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#stats.cacheHits++;
      return Promise.resolve(cached.allowed ? cached : { ...cached, deniedAccess: access });
    }
    this.#stats.cacheMisses++;
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      const input = {
        subject: request.subject,
        action: access.action,
        resource: name,
        context: {
          operation: request.operation,
          system: request.system,
          time: (request.context?.now ?? new Date()).toISOString(),
          ...(env === undefined ? {} : { environment: env }),
        },
      };
      // The shared call is bounded by the timeout only; each caller's own signal is raced below.
      pending = this.#ask(input).then((d) => {
        if (d.code !== 'unavailable' && d.code !== 'invalid_answer') this.#cache.set(key, d);
        return d;
      });
      const p = pending;
      this.#inflight.set(key, p);
      void p.finally(() => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key);
      });
    }
    const answer = pending.then((d) => (d.allowed ? d : { ...d, deniedAccess: access }));
    if (signal === undefined) return answer;
    if (signal.aborted) return Promise.resolve(denyDecision('unavailable', 'the caller aborted the decision', access));
    return new Promise<Decision>((resolve) => {
      const onAbort = (): void => {
        resolve(denyDecision('unavailable', 'the caller aborted the decision', access));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void answer.then((d) => {
        signal.removeEventListener('abort', onAbort);
        resolve(d);
      });
    });
  }

  async #ask(input: unknown): Promise<Decision> {
    this.#stats.evaluations++;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await undiciRequest(this.#endpoint, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify({ input }),
        signal: timeout,
        dispatcher: this.#dispatcher,
      });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.#maxBytes) {
          res.body.destroy();
          return this.#fail('invalid_answer', 'the OPA answer is too large');
        }
        chunks.push(chunk);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch {
      const why = timeout.aborted ? `the OPA decision point did not answer within ${this.#timeoutMs} ms` : 'the OPA decision point is unreachable';
      return this.#fail('unavailable', why);
    }
    if (status < 200 || status > 299) return this.#fail('unavailable', `the OPA decision point answered HTTP ${status}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return this.#fail('invalid_answer', 'the OPA answer is not JSON');
    }
    const result = typeof body === 'object' && body !== null ? (body as { result?: unknown }).result : undefined;
    if (typeof result === 'boolean') {
      return result ? { allowed: true, ruleId: undefined, reason: 'allowed by OPA', code: 'allowed' } : { allowed: false, ruleId: undefined, reason: 'denied by OPA', code: 'no_match' };
    }
    if (typeof result === 'object' && result !== null && typeof (result as { allow?: unknown }).allow === 'boolean') {
      const r = result as { allow: boolean; rule_id?: unknown; reason?: unknown };
      const ruleId = clean(r.rule_id, 200);
      const reason = clean(r.reason) ?? (r.allow ? 'allowed by OPA' : 'denied by OPA');
      return r.allow ? { allowed: true, ruleId, reason, code: 'allowed' } : { allowed: false, ruleId, reason, code: ruleId === undefined ? 'no_match' : 'explicit_deny' };
    }
    return this.#fail('invalid_answer', result === undefined ? 'the OPA answer has no result (is the data path defined?)' : 'the OPA result is neither a boolean nor { allow: boolean }');
  }

  #fail(code: 'unavailable' | 'invalid_answer', reason: string): Decision {
    this.#stats.failures++;
    return denyDecision(code, reason, undefined, code === 'unavailable' ? UNREACHABLE_REMEDIATION : INVALID_REMEDIATION);
  }

  /** Drops the cache and closes the private connection pool. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear();
    await Promise.allSettled([...this.#inflight.values()]);
    await this.#ownDispatcher?.close();
  }
}
