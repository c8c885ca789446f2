import { describe, expect, it } from 'vitest';
import { compilePolicy, type DecisionRequest, type ResourceAccess } from '../../src/policy/index.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const policy = compilePolicy({
  version: 1,
  services: [
    {
      id: svc,
      rules: [
        { id: 'orders-rw', resources: ['mongodb:orders/*', 'dynamodb:orders', 'dynamodb:orders/index/*'], actions: ['read', 'write'] },
        { id: 'café-read', resources: ['mongodb:café/menu'], actions: ['read'] },
        { id: 'no-secrets', effect: 'deny', resources: ['mongodb:orders/secrets'], actions: ['read', 'write', 'admin'] },
        { id: 'docs', resources: ['http:https://docs.internal:8443/v1/docs/*'], actions: ['read'] },
        { id: 'archive', resources: ['mongodb:archive/**'], actions: ['read'] },
      ],
    },
    { id: 'spiffe://prod.example/ns/reports/*', rules: [{ id: 'reports-read', resources: ['mongodb:orders/*'], actions: ['read'] }] },
  ],
});

function req(accesses: ResourceAccess[], system: DecisionRequest['system'] = 'mongodb', subject = svc, operation = 'find'): DecisionRequest {
  return { subject, system, operation, accesses };
}
const read = (resource: string): ResourceAccess => ({ resource, action: 'read' });
const allowed = (r: DecisionRequest): boolean => policy.decide(r).allowed;

describe('local decision point: matching', () => {
  it('allows granted accesses and returns a plain (sync) Decision with the rule id', () => {
    const d = policy.decide(req([read('mongodb:orders/items')]));
    expect(d).not.toBeInstanceOf(Promise);
    expect(d).toMatchObject({ allowed: true, ruleId: 'orders-rw', code: 'allowed' });
    expect(allowed(req([{ resource: 'dynamodb:orders/index/byDate', action: 'write' }], 'dynamodb'))).toBe(true);
    expect(allowed(req([read('http:https://docs.internal:8443/v1/docs/42')], 'http'))).toBe(true);
    expect(allowed(req([read('mongodb:archive/2024/q1')]))).toBe(true);
  });

  it('denies by default with no rule id', () => {
    const d = policy.decide(req([read('mongodb:billing/items')]));
    expect(d).toMatchObject({ allowed: false, ruleId: undefined, code: 'no_match' });
    expect(d.deniedAccess?.resource).toBe('mongodb:billing/items');
    expect(allowed(req([{ resource: 'mongodb:orders/items', action: 'admin' }]))).toBe(false);
  });

  it('an explicit deny overrides an allow', () => {
    expect(policy.decide(req([read('mongodb:orders/secrets')]))).toMatchObject({ allowed: false, ruleId: 'no-secrets', code: 'explicit_deny' });
  });

  it('matches by segment: prefix tricks fail', () => {
    for (const r of ['mongodb:orders-evil/items', 'mongodb:orders/a/b', 'mongodb:orders', 'mongodb:orders/', 'mongodb:ordersx/items', 'dynamodb:orders-evil', 'dynamodb:orders/index/a/b']) {
      expect(allowed(req([read(r)], r.startsWith('dynamodb') ? 'dynamodb' : 'mongodb')), r).toBe(false);
    }
    expect(allowed(req([read('http:https://docs.internal:8443/v1/docs/42/raw')], 'http'))).toBe(false);
    expect(allowed(req([read('http:https://docs.internal:8443.evil.example/v1/docs/42')], 'http'))).toBe(false);
    expect(allowed(req([read('http:https://docs.internal:84430/v1/docs/42')], 'http'))).toBe(false);
  });

  it('compares case-sensitively', () => {
    expect(allowed(req([read('mongodb:Orders/items')]))).toBe(false);
    expect(allowed(req([read('MONGODB:orders/items')]))).toBe(false);
  });

  it('normalises NFD to NFC (allowed) but denies confusables', () => {
    expect(allowed(req([read('mongodb:cafe\u0301/menu')]))).toBe(true);
    expect(allowed(req([read('mongodb:café/menu')]))).toBe(true);
    // Cyrillic о (U+043E) in "orders": refused outright, even where a wildcard would match
    expect(policy.decide(req([read('mongodb:\u043erders/items')]))).toMatchObject({ allowed: false, code: 'invalid_resource' });
    expect(policy.decide(req([read('mongodb:orders/s\u0435crets')]))).toMatchObject({ allowed: false, code: 'invalid_resource' });
    // whole-script look-alike (Cyrillic "сор"), fullwidth and mathematical letters
    expect(allowed(req([read('mongodb:orders/\u0441\u043e\u0440')]))).toBe(false);
    expect(allowed(req([read('mongodb:orders/\uff53ecrets')]))).toBe(false);
    expect(allowed(req([read('mongodb:orders/\u{1D42C}ecrets')]))).toBe(false);
    // a non-confusable non-Latin name inside a granted wildcard stays allowed
    expect(allowed(req([read('mongodb:orders/注文')]))).toBe(true);
  });

  it('denies zero-width, default-ignorable and control characters instead of stripping them', () => {
    for (const ch of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u0000', '\u202e', '\u00a0']) {
      const d = policy.decide(req([read(`mongodb:orders/sec${ch}rets`)]));
      expect(d, JSON.stringify(ch)).toMatchObject({ allowed: false, code: 'invalid_resource' });
      expect(allowed(req([read(`mongodb:orders${ch}/items`)]))).toBe(false);
    }
  });

  it('denies dot segments, percent-encoded and double-encoded ones', () => {
    for (const r of ['mongodb:orders/../admin', 'mongodb:orders/./items', 'mongodb:orders/%2e%2e', 'mongodb:orders/%2E%2E', 'mongodb:orders/.%2e', 'mongodb:orders/%252e%252e', 'mongodb:orders/%25252e', 'mongodb:orders/a%2fb', 'mongodb:orders/a\\b']) {
      expect(policy.decide(req([read(r)])), r).toMatchObject({ allowed: false, code: 'invalid_resource' });
    }
    for (const r of ['http:https://docs.internal:8443/v1/docs/../admin', 'http:https://docs.internal:8443/v1/docs/%2e%2e', 'http:https://docs.internal:8443/v1/docs/%252e%252e']) {
      expect(allowed(req([read(r)], 'http')), r).toBe(false);
    }
  });

  it('denies a multi-access request (PartiQL, aggregation $out/$lookup) when any access is not allowed', () => {
    const partiql = req([read('dynamodb:orders'), read('dynamodb:payments')], 'dynamodb', svc, 'ExecuteStatement');
    const d = policy.decide(partiql);
    expect(d).toMatchObject({ allowed: false, deniedAccess: { resource: 'dynamodb:payments', action: 'read' } });
    const aggregate = req([read('mongodb:orders/items'), read('mongodb:orders/lines'), { resource: 'mongodb:billing/export', action: 'write' }], 'mongodb', svc, 'aggregate');
    expect(policy.decide(aggregate).deniedAccess?.resource).toBe('mongodb:billing/export');
    const lookupSecrets = req([read('mongodb:orders/items'), read('mongodb:orders/secrets')], 'mongodb', svc, 'aggregate');
    expect(policy.decide(lookupSecrets)).toMatchObject({ allowed: false, ruleId: 'no-secrets' });
    expect(allowed(req([read('mongodb:orders/items'), { resource: 'mongodb:orders/lines', action: 'write' }]))).toBe(true);
  });

  it('denies unknown operations: no accesses, unknown action, another system, malformed request', () => {
    expect(policy.decide(req([]))).toMatchObject({ allowed: false, code: 'unknown_operation' });
    expect(policy.decide(req([{ resource: 'mongodb:orders/items', action: 'delete' as 'read' }]))).toMatchObject({ allowed: false, code: 'unknown_operation' });
    expect(policy.decide(req([read('dynamodb:orders')], 'mongodb'))).toMatchObject({ allowed: false, code: 'invalid_resource' });
    expect(policy.decide(null as unknown as DecisionRequest).allowed).toBe(false);
    expect(policy.decide({ subject: svc, system: 'mongodb', operation: 'find' } as unknown as DecisionRequest).allowed).toBe(false);
  });

  it('matches subjects as SPIFFE IDs: exact and segment patterns', () => {
    expect(allowed(req([read('mongodb:orders/items')], 'mongodb', 'spiffe://prod.example/ns/reports/sa'))).toBe(true);
    expect(allowed(req([{ resource: 'mongodb:orders/items', action: 'write' }], 'mongodb', 'spiffe://prod.example/ns/reports/sa'))).toBe(false);
    for (const s of ['spiffe://prod.example/ns/reports/sa/x', 'spiffe://prod.example/ns/reports-evil/sa', 'spiffe://prod.example/ns/orders/sa/orders-api/x', 'spiffe://prod.example/ns/orders/sa/orders-api-evil', 'spiffe://prod.example.evil/ns/orders/sa/orders-api', 'spiffe://prod.example/ns/orders/sa/../sa/orders-api', 'spiffe://prod.example/ns/orders/sa/\u043erders-api', 'SPIFFE://prod.example/ns/orders/sa/orders-api']) {
      expect(allowed(req([read('mongodb:orders/items')], 'mongodb', s)), s).toBe(false);
    }
  });

  it('explain() tells which rule decided and why', () => {
    const ok = policy.explain(req([read('mongodb:orders/items')]));
    expect(ok.decision.allowed).toBe(true);
    expect(ok.matchedServices).toEqual([svc]);
    expect(ok.accesses[0]).toMatchObject({ allowed: true, ruleId: 'orders-rw', reason: 'allowed by rule orders-rw' });
    expect(ok.accesses[0]?.evaluated[0]).toMatchObject({ ruleId: 'orders-rw', pattern: 'mongodb:orders/*', applies: true });
    const none = policy.explain(req([read('mongodb:billing/x')]));
    expect(none.accesses[0]).toMatchObject({ allowed: false, reason: 'no rule matched', evaluated: [] });
    const denied = policy.explain(req([read('mongodb:orders/secrets')]));
    expect(denied.accesses[0]?.ruleId).toBe('no-secrets');
    expect(denied.accesses[0]?.evaluated[0]).toMatchObject({ effect: 'deny', applies: true });
    const refused = policy.explain(req([read('mongodb:orders/%2e%2e')]));
    expect(refused.accesses[0]?.reason).toContain('percent-encoded dot segment');
  });
});

describe('local decision point: conditions', () => {
  const monday10 = Date.UTC(2026, 10, 30, 10, 0); // Monday 2026-11-30 10:00 UTC
  let clock = monday10;
  const p = compilePolicy(
    {
      version: 1,
      services: [
        {
          id: svc,
          rules: [
            { id: 'office-hours', resources: ['mongodb:orders/*'], actions: ['write'], conditions: { environments: ['prod'], timeWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '18:00' } } },
            { id: 'night', resources: ['mongodb:batch/*'], actions: ['write'], conditions: { timeWindow: { days: ['fri'], start: '22:00', end: '02:00' } } },
            { id: 'limited', resources: ['mongodb:reports/*'], actions: ['read'], conditions: { rate: { perSecond: 2, burst: 3 } } },
          ],
        },
      ],
    },
    { clock: () => clock },
  );
  const write = (resource: string, environment?: string, now?: Date): DecisionRequest => ({ subject: svc, system: 'mongodb', operation: 'insertOne', accesses: [{ resource, action: 'write' }], context: { ...(environment === undefined ? {} : { environment }), ...(now === undefined ? {} : { now }) } });

  it('time window (UTC, days) and environment labels with an injected clock', () => {
    clock = monday10;
    expect(p.decide(write('mongodb:orders/items', 'prod')).allowed).toBe(true);
    expect(p.decide(write('mongodb:orders/items', 'staging'))).toMatchObject({ allowed: false, code: 'condition' });
    expect(p.decide(write('mongodb:orders/items')).allowed).toBe(false);
    clock = Date.UTC(2026, 10, 30, 18, 0); // end is exclusive
    expect(p.decide(write('mongodb:orders/items', 'prod')).allowed).toBe(false);
    clock = Date.UTC(2026, 10, 29, 10, 0); // Sunday
    expect(p.decide(write('mongodb:orders/items', 'prod')).allowed).toBe(false);
    // context.now wins over the clock
    expect(p.decide(write('mongodb:orders/items', 'prod', new Date(monday10))).allowed).toBe(true);
    // a window past midnight belongs to its opening day
    expect(p.decide(write('mongodb:batch/x', undefined, new Date(Date.UTC(2026, 11, 4, 23, 0)))).allowed).toBe(true); // Fri 23:00
    expect(p.decide(write('mongodb:batch/x', undefined, new Date(Date.UTC(2026, 11, 5, 1, 30)))).allowed).toBe(true); // Sat 01:30
    expect(p.decide(write('mongodb:batch/x', undefined, new Date(Date.UTC(2026, 11, 5, 23, 0)))).allowed).toBe(false); // Sat 23:00
    const ex = p.explain(write('mongodb:orders/items', 'staging', new Date(monday10)));
    expect(ex.accesses[0]?.evaluated[0]?.conditions[0]).toMatchObject({ condition: 'environment', passed: false });
  });

  it('rate: a token bucket per rule and subject; exceeding denies with code rate', () => {
    clock = 1_000_000;
    const r: DecisionRequest = { subject: svc, system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:reports/daily', action: 'read' }] };
    expect([1, 2, 3].map(() => p.decide(r).allowed)).toEqual([true, true, true]);
    const denied = p.decide(r);
    expect(denied).toMatchObject({ allowed: false, code: 'rate', ruleId: 'limited' });
    expect(denied.reason).toContain('rate');
    // explain does not consume tokens
    expect(p.explain(r).accesses[0]?.evaluated[0]?.conditions[0]).toMatchObject({ condition: 'rate', passed: false });
    clock += 500; // refills one token at 2/s
    expect(p.decide(r).allowed).toBe(true);
    expect(p.decide(r).allowed).toBe(false);
  });
});
