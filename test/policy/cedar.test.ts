import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CedarDecisionPoint, type DecisionRequest } from '../../src/policy/index.js';
import { hasErrorCode } from '../../src/errors/index.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const policies = `
@id("orders-rw")
permit (
  principal == SecureNosql::Service::"${svc}",
  action in [SecureNosql::Action::"read", SecureNosql::Action::"write"],
  resource in SecureNosql::Resource::"mongodb:orders"
);

@id("no-secrets")
forbid (principal, action, resource == SecureNosql::Resource::"mongodb:orders/secrets");

@id("prod-admin")
permit (principal == SecureNosql::Service::"${svc}", action == SecureNosql::Action::"admin", resource in SecureNosql::Resource::"mongodb:orders")
when { context.environment == "prod" && context.utcHour >= 8 && context.utcHour < 18 };
`;
const req = (resource: string, action: 'read' | 'write' | 'admin' = 'read', context: DecisionRequest['context'] = {}): DecisionRequest => ({ subject: svc, system: 'mongodb', operation: 'find', accesses: [{ resource, action }], context });

let dp: CedarDecisionPoint;
const clock = Date.UTC(2026, 11, 4, 10, 0);
beforeAll(async () => {
  dp = await CedarDecisionPoint.create({ policies, clock: () => clock, cacheTtlMs: 60_000 });
});
afterAll(async () => {
  await dp.close();
});

describe('Cedar decision point', () => {
  it('allow / deny round trip with policy ids, synchronously', () => {
    const allow = dp.decide(req('mongodb:orders/items'));
    expect(allow).not.toBeInstanceOf(Promise);
    expect(allow).toMatchObject({ allowed: true, ruleId: 'orders-rw' });
    expect(dp.decide(req('mongodb:orders/secrets'))).toMatchObject({ allowed: false, ruleId: 'no-secrets', code: 'explicit_deny' });
    expect(dp.decide(req('mongodb:billing/items'))).toMatchObject({ allowed: false, code: 'no_match' });
    // hierarchy is by segment: orders-evil is not inside orders
    expect(dp.decide(req('mongodb:orders-evil/items')).allowed).toBe(false);
    expect(dp.decide(req('mongodb:orders/../billing')).allowed).toBe(false);
    expect(dp.decide(req('mongodb:\u043erders/items')).allowed).toBe(false);
  });

  it('evaluates context conditions (environment, UTC hour)', () => {
    expect(dp.decide(req('mongodb:orders/items', 'admin', { environment: 'prod' })).allowed).toBe(true);
    expect(dp.decide(req('mongodb:orders/items', 'admin', { environment: 'dev' })).allowed).toBe(false);
    expect(dp.decide(req('mongodb:orders/items', 'admin', { environment: 'prod', now: new Date(Date.UTC(2026, 11, 4, 20, 0)) })).allowed).toBe(false);
  });

  it('caches decisions briefly (parsed once, evaluated once per key)', () => {
    const before = dp.stats;
    for (let i = 0; i < 50; i++) dp.decide(req('mongodb:orders/cached'));
    const after = dp.stats;
    expect(after.evaluations - before.evaluations).toBe(1);
    expect(after.cacheHits - before.cacheHits).toBe(49);
  });

  it('denies a multi-access request when one access is forbidden', () => {
    const r: DecisionRequest = { subject: svc, system: 'mongodb', operation: 'aggregate', accesses: [{ resource: 'mongodb:orders/items', action: 'read' }, { resource: 'mongodb:orders/secrets', action: 'read' }] };
    expect(dp.decide(r)).toMatchObject({ allowed: false, deniedAccess: { resource: 'mongodb:orders/secrets' } });
  });

  const notInstalled: string = '@cedar-policy/not-installed';
  it('fails closed: invalid policies → CONFIG_INVALID; missing package → DEPENDENCY_MISSING naming the install command', async () => {
    await expect(CedarDecisionPoint.create({ policies: 'permit(principal, action' })).rejects.toSatisfy((e) => hasErrorCode(e, 'CONFIG_INVALID'));
    await expect(CedarDecisionPoint.create({ policies, loadModule: () => import(notInstalled) })).rejects.toSatisfy(
      (e) => hasErrorCode(e, 'DEPENDENCY_MISSING') && e.message.includes('npm i @cedar-policy/cedar-wasm'),
    );
  });
});
