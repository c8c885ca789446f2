import type { OperationDescriptor } from '../../resilience/types.js';
import type { Action, ResourceAccess } from '../../policy/types.js';

const ACTIONS: Readonly<Record<string, Action>> = Object.freeze({
  GET: 'read',
  HEAD: 'read',
  OPTIONS: 'read',
  PUT: 'write',
  POST: 'write',
  PATCH: 'write',
  DELETE: 'write',
});

// RFC 9110 §9.2.2. POST and PATCH are not: they are retried after an ambiguous failure only on opt-in.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** The policy action of an HTTP method; undefined for methods policy cannot classify (they get no accesses, so policy denies them). */
export function actionOf(method: string): Action | undefined {
  return ACTIONS[method];
}

/** True for methods whose repetition has the same effect as one request. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** What describes the HTTP requests of one client. */
export interface OperationFactoryOptions {
  /** Normalised origin, e.g. `https://docs.internal:8443`. */
  readonly origin: string;
  readonly audience: string;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** Descriptors cached per client (the guard caches its derived data per descriptor object). */
  readonly cacheSize?: number;
}

/**
 * Builds {@link OperationDescriptor}s for one origin and caches them by
 * method, canonical path, route and replayability, so a hot path reuses
 * the object (and the guard's per-descriptor span attributes and decision
 * request). The cache is bounded and per client.
 */
export class OperationFactory {
  readonly #options: OperationFactoryOptions;
  readonly #cache = new Map<string, OperationDescriptor>();
  readonly #limit: number;

  constructor(options: OperationFactoryOptions) {
    this.#options = options;
    this.#limit = options.cacheSize ?? 512;
  }

  /** The descriptor of `method` on the canonical `path`. */
  describe(method: string, path: string, route: string | undefined, replayableBody: boolean): OperationDescriptor {
    const key = `${method} ${replayableBody ? 'r' : 's'} ${route ?? ''} ${path}`;
    let op = this.#cache.get(key);
    if (op === undefined) {
      const { origin, audience, serverAddress, serverPort } = this.#options;
      const action = actionOf(method);
      const accesses: readonly ResourceAccess[] = action === undefined ? [] : Object.freeze([Object.freeze({ resource: `http:${origin}${path}`, action })]);
      op = Object.freeze({
        system: 'http' as const,
        operation: method,
        target: origin,
        accesses,
        // A streamed body cannot be sent twice, whatever the method.
        idempotent: replayableBody && isIdempotentMethod(method),
        ...(route === undefined ? {} : { route }),
        serverAddress,
        serverPort,
        audience,
      });
      if (this.#cache.size >= this.#limit) this.#cache.clear();
      this.#cache.set(key, op);
    }
    return op;
  }
}
