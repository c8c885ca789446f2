import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGuard, type GuardOptions, type GuardPipeline } from '../../src/resilience/index.js';
import { ATTR, METRIC, Telemetry } from '../../src/telemetry/index.js';
import { allowAll, classify, credentialHook, instantSleep, op, otel, points, scripted } from '../resilience/fixtures.js';

/** A minimal AsyncLocalStorage context manager, as an SDK setup would register. */
class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

beforeAll(() => {
  context.setGlobalContextManager(new AlsContextManager());
});
afterAll(() => {
  context.disable();
});

const guards: GuardPipeline[] = [];
let sdk = otel();
function guard(extra: Partial<GuardOptions> = {}): GuardPipeline {
  const g = createGuard({
    serviceId: 'spiffe://test/ns/a/sa/orders',
    decisionPoint: allowAll,
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    sleep: instantSleep().sleep,
    random: () => 0.5,
    ...extra,
  });
  guards.push(g);
  return g;
}
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
  await sdk.shutdown();
  sdk = otel();
});

describe('spans', () => {
  it('one CLIENT span per operation with semconv and secure_nosql attributes', async () => {
    const s = scripted(['ok']);
    await guard().run({ op: op(), attempt: s.attempt, classify });
    const spans = sdk.spans();
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.name).toBe('find items');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      'db.system.name': 'mongodb',
      'db.namespace': 'orders',
      'db.collection.name': 'items',
      'db.operation.name': 'find',
      'server.address': 'orders-db',
      'server.port': 27017,
      'secure_nosql.audience': 'orders-db',
      'secure_nosql.policy.decision': 'allow',
      'secure_nosql.policy.rule_id': 'allow-all',
      'secure_nosql.retry_count': 0,
      'secure_nosql.breaker_state': 'closed',
    });
  });

  it('DynamoDB and HTTP naming', async () => {
    const s = scripted(['ok']);
    const g = guard();
    await g.run({ op: op({ system: 'dynamodb', operation: 'GetItem', collection: 'orders', namespace: undefined as never }), attempt: s.attempt, classify });
    await g.run({ op: op({ system: 'http', operation: 'GET', route: '/v1/docs/{id}', collection: undefined as never, namespace: undefined as never, serverAddress: 'docs.internal', serverPort: 8443 }), attempt: s.attempt, classify });
    const [ddb, http] = sdk.spans();
    expect(ddb!.name).toBe('GetItem orders');
    expect(ddb!.attributes['db.system.name']).toBe('aws.dynamodb');
    expect(http!.name).toBe('GET /v1/docs/{id}');
    expect(http!.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.template': '/v1/docs/{id}', 'server.address': 'docs.internal', 'server.port': 8443 });
    expect(http!.attributes['db.system.name']).toBeUndefined();
  });

  it('a failed operation: error.type = our code, ERROR status, retry events with attempt/class/delay', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503' }]);
    await guard({ retry: { maxAttempts: 3, baseDelayMs: 100 } })
      .run({ op: op(), attempt: s.attempt, classify })
      .catch(() => undefined);
    const span = sdk.spans()[0]!;
    expect(span.attributes[ATTR.ERROR_TYPE]).toBe('UPSTREAM_UNAVAILABLE');
    expect(span.attributes[ATTR.RETRY_COUNT]).toBe(2);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toContain('retries exhausted');
    const retries = span.events.filter((e) => e.name === 'retry');
    expect(retries.map((e) => e.attributes)).toEqual([
      { [ATTR.ATTEMPT]: 1, [ATTR.FAILURE_CLASS]: 'transient', [ATTR.FAILURE_REASON]: 'http_503', [ATTR.DELAY_MS]: 50 },
      { [ATTR.ATTEMPT]: 2, [ATTR.FAILURE_CLASS]: 'transient', [ATTR.FAILURE_REASON]: 'http_503', [ATTR.DELAY_MS]: 100 },
    ]);
  });

  it('stale credential adds a token.refresh event; policy deny is on the span', async () => {
    const cred = credentialHook();
    const s = scripted<string>([{ class: 'stale_credential', reason: 'mongo_391' }, 'ok']);
    await guard().run({ op: op(), attempt: s.attempt, classify, credential: cred.hook });
    expect(sdk.spans()[0]!.events.map((e) => e.name)).toEqual(['token.refresh']);

    await guard({ decisionPoint: { decide: () => ({ allowed: false, ruleId: 'deny-x', reason: 'nope' }) } })
      .run({ op: op(), attempt: s.attempt, classify })
      .catch(() => undefined);
    const denied = sdk.spans()[1]!;
    expect(denied.attributes).toMatchObject({ [ATTR.POLICY_DECISION]: 'deny', [ATTR.POLICY_RULE_ID]: 'deny-x', [ATTR.ERROR_TYPE]: 'POLICY_DENIED' });
    expect(denied.attributes[ATTR.BREAKER_STATE]).toBeUndefined();
  });

  it('the attempt and the credential hook run inside the operation span (child spans, token observer)', async () => {
    const g = guard();
    const telemetry = new Telemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const observer = telemetry.tokenObserver();
    const tracer = sdk.tracerProvider.getTracer('driver');
    await g.run({
      op: op(),
      classify,
      credential: {
        acquire: async () => {
          observer.cacheResult?.('orders-db', 'miss');
          observer.fetched?.('orders-db', 12, 'ok');
          return 'tok';
        },
        invalidate: () => undefined,
      },
      attempt: async () => {
        tracer.startSpan('driver-internal').end();
        return 1;
      },
    });
    const spans = sdk.spans();
    const outer = spans.find((sp) => sp.name === 'find items')!;
    const inner = spans.find((sp) => sp.name === 'driver-internal')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(outer.attributes[ATTR.TOKEN_CACHE]).toBe('miss');
    expect(outer.events.map((e) => e.name)).toContain('token.refresh');
    telemetry.close();
  });

  it('no span is active after run (context restored)', async () => {
    await guard().run({ op: op(), attempt: scripted(['ok']).attempt, classify });
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});

describe('metrics', () => {
  it('operation duration by system/operation/outcome, auth failures by reason, breaker state and transitions', async () => {
    const g = guard({ retry: { maxAttempts: 1 }, breaker: { volumeThreshold: 2, resetTimeout: 60_000 } });
    await g.run({ op: op(), attempt: scripted(['ok']).attempt, classify });
    await g.run({ op: op(), attempt: scripted([{ class: 'access_denied', reason: 'mongo_13' }]).attempt, classify }).catch(() => undefined);
    await g.run({ op: op(), attempt: scripted([{ class: 'auth_rejected', reason: 'mongo_18' }]).attempt, classify }).catch(() => undefined);
    for (let i = 0; i < 2; i++) await g.run({ op: op(), attempt: scripted([{ class: 'transient', reason: 'http_503' }]).attempt, classify }).catch(() => undefined);
    const m = await sdk.metrics();

    const duration = points(m.get(METRIC.OPERATION_DURATION));
    expect(m.get(METRIC.OPERATION_DURATION)!.descriptor.unit).toBe('s');
    const byOutcome = Object.fromEntries(duration.map((p) => [p.attributes[ATTR.OUTCOME], (p.value as { count: number }).count]));
    expect(byOutcome).toEqual({ ok: 1, ACCESS_DENIED: 1, AUTH_REJECTED: 1, UPSTREAM_UNAVAILABLE: 2 });
    expect(duration[0]!.attributes).toMatchObject({ [ATTR.SYSTEM]: 'mongodb', [ATTR.OPERATION]: 'find' });

    const auth = points(m.get(METRIC.AUTH_FAILURES)).map((p) => [p.attributes[ATTR.FAILURE_CLASS], p.attributes[ATTR.FAILURE_REASON], p.value]);
    expect(auth).toEqual(
      expect.arrayContaining([
        ['access_denied', 'mongo_13', 1],
        ['auth_rejected', 'mongo_18', 1],
      ]),
    );
    expect(auth).toHaveLength(2);

    const breaker = points(m.get(METRIC.BREAKER_STATE));
    expect(breaker.map((p) => [p.attributes[ATTR.TARGET], p.value])).toEqual([['mongodb://orders-db:27017', 2]]);
    const transitions = points(m.get(METRIC.BREAKER_TRANSITIONS));
    expect(transitions.map((p) => [p.attributes[ATTR.BREAKER_STATE], p.value])).toEqual([['open', 1]]);
  });

  it('token cache results, token fetch duration, certificate expiry gauge and events', async () => {
    let listener: ((e: never) => void) | undefined;
    const notAfter = new Date(Date.parse('2030-01-01T00:00:00Z'));
    const source = {
      current: () => ({ generation: 1, notAfter, spiffeId: 'spiffe://test/ns/a/sa/orders' }),
      on: (l: (e: never) => void) => {
        listener = l;
        return { dispose: () => (listener = undefined) };
      },
      close: async () => undefined,
    };
    const telemetry = new Telemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, now: () => Date.parse('2029-12-31T23:00:00Z') });
    const observer = telemetry.tokenObserver();
    observer.cacheResult?.('orders-db', 'hit');
    observer.cacheResult?.('orders-db', 'hit');
    observer.cacheResult?.('orders-db', 'refresh');
    observer.fetched?.('orders-db', 250, 'ok');
    const handle = telemetry.observeCertificates(source as never);
    listener?.({ type: 'rotated', current: { generation: 2 } } as never);
    const m = await sdk.metrics();
    const cache = points(m.get(METRIC.TOKEN_CACHE_RESULTS)).map((p) => [p.attributes[ATTR.TOKEN_RESULT], p.value]);
    expect(cache).toEqual(expect.arrayContaining([['hit', 2], ['refresh', 1]]));
    const fetch = points(m.get(METRIC.TOKEN_FETCH_DURATION))[0]!;
    expect((fetch.value as { sum: number }).sum).toBeCloseTo(0.25);
    expect(points(m.get(METRIC.CERTIFICATE_SECONDS_TO_EXPIRY))[0]!.value).toBe(3600);
    expect(points(m.get(METRIC.CERTIFICATE_EVENTS)).map((p) => [p.attributes[ATTR.CERTIFICATE_EVENT], p.value])).toEqual([['rotated', 1]]);
    handle.dispose();
    expect(listener).toBeUndefined();
    telemetry.close();
  });
});

describe('no SDK registered', () => {
  it('works with the global no-op API and records nothing', async () => {
    const g = createGuard({ serviceId: 'spiffe://test/ns/a/sa/orders', sleep: instantSleep().sleep });
    const s = scripted([{ class: 'transient', reason: 'http_503' }, 'ok']);
    await expect(g.run({ op: op(), attempt: s.attempt, classify })).resolves.toBe('result');
    await expect(g.run({ op: op(), attempt: scripted([{ class: 'permanent', reason: 'x' }]).attempt, classify })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    await g.close();
    expect(sdk.spans()).toHaveLength(0);
  });
});
