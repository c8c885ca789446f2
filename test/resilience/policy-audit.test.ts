import { afterEach, describe, expect, it } from 'vitest';
import type { SecureNosqlError } from '../../src/errors/index.js';
import type { Decision, DecisionPoint, DecisionRequest } from '../../src/policy/types.js';
import { createGuard, type GuardOptions, type GuardPipeline } from '../../src/resilience/index.js';
import { classify, collectingSink, instantSleep, op, scripted } from './fixtures.js';

const SERVICE = 'spiffe://test/ns/a/sa/orders';
const guards: GuardPipeline[] = [];
function guard(extra: Partial<GuardOptions>): GuardPipeline {
  const g = createGuard({ serviceId: SERVICE, sleep: instantSleep().sleep, ...extra });
  guards.push(g);
  return g;
}
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
});

const denyWrites: DecisionPoint = {
  decide: (req) => {
    const w = req.accesses.find((a) => a.action !== 'read');
    return w === undefined
      ? { allowed: true, ruleId: 'orders-read', reason: 'read allowed' }
      : { allowed: false, ruleId: undefined, reason: 'no rule grants write', deniedAccess: w };
  },
};

describe('policy decision and audit', () => {
  it('deny: the attempt is never called, POLICY_DENIED names service, action and resource, decision + outcome audited', async () => {
    const sink = collectingSink();
    const s = scripted(['ok']);
    const write = op({ operation: 'insertOne', idempotent: false, accesses: [{ resource: 'mongodb:orders/items', action: 'write' }] });
    const err = (await guard({ decisionPoint: denyWrites, audit: sink })
      .run({ op: write, attempt: s.attempt, classify })
      .catch((e: unknown) => e)) as SecureNosqlError;
    expect(err.code).toBe('POLICY_DENIED');
    expect(err.message).toContain(SERVICE);
    expect(err.message).toContain('write on mongodb:orders/items');
    expect(err.remediation).toContain('add a policy rule');
    expect(s.calls).toBe(0);
    expect(sink.records).toHaveLength(2);
    expect(sink.records[0]).toMatchObject({ kind: 'decision', decision: 'deny', service: SERVICE, action: 'write', resource: 'mongodb:orders/items', operation: 'insertOne', system: 'mongodb', reason: 'no rule grants write' });
    expect(sink.records[1]).toMatchObject({ kind: 'outcome', decision: 'deny', outcome: 'POLICY_DENIED', attempts: 0, correlationId: err.correlationId });
  });

  it('allow: decision and outcome records carry rule id, attempts, duration; time is ISO-8601', async () => {
    const sink = collectingSink();
    const s = scripted([{ class: 'transient', reason: 'http_503' }, 'ok']);
    await guard({ decisionPoint: denyWrites, audit: sink }).run({ op: op(), attempt: s.attempt, classify });
    expect(sink.records.map((r) => r.kind)).toEqual(['decision', 'outcome']);
    expect(sink.records[0]).toMatchObject({ decision: 'allow', ruleId: 'orders-read', action: 'read' });
    const outcome = sink.records[1]!;
    expect(outcome).toMatchObject({ decision: 'allow', ruleId: 'orders-read', outcome: 'ok', attempts: 2 });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    expect(new Date(outcome.time).toISOString()).toBe(outcome.time);
    expect(outcome.traceId).toBeUndefined(); // no SDK: no trace id
  });

  it('a failed outcome is audited with the error code and the classification reason', async () => {
    const sink = collectingSink();
    const s = scripted([{ class: 'access_denied', reason: 'dynamodb_AccessDeniedException' }]);
    await guard({ audit: sink })
      .run({ op: op(), attempt: s.attempt, classify })
      .catch(() => undefined);
    expect(sink.records[1]).toMatchObject({ outcome: 'ACCESS_DENIED', reason: 'dynamodb_AccessDeniedException', attempts: 1 });
  });

  it('no decision point configured: allowed and audited as allow with rule id no-policy', async () => {
    const sink = collectingSink();
    const s = scripted(['ok']);
    await guard({ audit: sink }).run({ op: op(), attempt: s.attempt, classify });
    expect(sink.records[0]).toMatchObject({ kind: 'decision', decision: 'allow', ruleId: 'no-policy' });
  });

  it('an async decision point is awaited; the request carries subject, accesses and environment', async () => {
    const requests: DecisionRequest[] = [];
    const remote: DecisionPoint = {
      decide: async (req) => {
        requests.push(req);
        await new Promise((r) => setTimeout(r, 2));
        return { allowed: false, ruleId: 'remote-deny', reason: 'remote says no' } satisfies Decision;
      },
    };
    const s = scripted(['ok']);
    const g = guard({ decisionPoint: remote, environment: 'prod' });
    await expect(g.run({ op: op(), attempt: s.attempt, classify })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    expect(s.calls).toBe(0);
    expect(requests[0]).toMatchObject({ subject: SERVICE, operation: 'find', system: 'mongodb', context: { environment: 'prod' }, accesses: [{ resource: 'mongodb:orders/items', action: 'read' }] });
  });

  it('a decision point that throws or rejects fails closed', async () => {
    const s = scripted(['ok']);
    const throwing: DecisionPoint = {
      decide: () => {
        throw new Error('engine crashed');
      },
    };
    const rejecting: DecisionPoint = { decide: () => Promise.reject(new Error('opa unreachable')) };
    await expect(guard({ decisionPoint: throwing }).run({ op: op(), attempt: s.attempt, classify })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(guard({ decisionPoint: rejecting }).run({ op: op(), attempt: s.attempt, classify })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    expect(s.calls).toBe(0);
  });

  it('multi-resource operations audit the strongest action and every resource', async () => {
    const sink = collectingSink();
    const s = scripted(['ok']);
    const tx = op({
      system: 'dynamodb',
      operation: 'TransactWriteItems',
      accesses: [
        { resource: 'dynamodb:orders', action: 'read' },
        { resource: 'dynamodb:ledger', action: 'write' },
      ],
    });
    await guard({ audit: sink }).run({ op: tx, attempt: s.attempt, classify });
    expect(sink.records[0]).toMatchObject({ action: 'write', resource: 'dynamodb:ledger', resources: ['dynamodb:orders', 'dynamodb:ledger'] });
  });

  it('a throwing audit sink does not break the call', async () => {
    const s = scripted(['ok']);
    const g = guard({
      audit: {
        write: () => {
          throw new Error('disk full');
        },
      },
    });
    await expect(g.run({ op: op(), attempt: s.attempt, classify })).resolves.toBe('result');
  });
});
