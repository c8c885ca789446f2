import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpaDecisionPoint, type DecisionRequest } from '../../src/policy/index.js';
import { hasErrorCode } from '../../src/errors/index.js';
import { ruleTable, startOpaServer, type OpaFixture } from '../fixtures/opa-server.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const find = (resource: string, action: 'read' | 'write' = 'read'): DecisionRequest => ({ subject: svc, system: 'mongodb', operation: 'find', accesses: [{ resource, action }], context: { environment: 'prod' } });

let opa: OpaFixture;
beforeAll(async () => {
  opa = await startOpaServer(ruleTable([{ subject: svc, action: 'read', resource: 'mongodb:orders/items', ruleId: 'orders-read' }]));
});
afterAll(async () => {
  await opa.close();
});

describe('OPA decision point (against the REST data API fixture)', () => {
  it('round trip: allow, deny, cache hit counted, input shape', async () => {
    const dp = new OpaDecisionPoint({ url: opa.url, path: 'secure_nosql/allow', cacheTtlMs: 60_000 });
    try {
      const before = opa.requestCount();
      const allow = await dp.decide(find('mongodb:orders/items'));
      expect(allow).toMatchObject({ allowed: true, ruleId: 'orders-read' });
      expect(opa.inputs.at(-1)).toMatchObject({ subject: svc, action: 'read', resource: 'mongodb:orders/items', context: { operation: 'find', system: 'mongodb', environment: 'prod' } });
      const deny = await dp.decide(find('mongodb:orders/items', 'write'));
      expect(deny).toMatchObject({ allowed: false, reason: 'no row', deniedAccess: { action: 'write' } });
      expect(opa.requestCount() - before).toBe(2);
      expect((await dp.decide(find('mongodb:orders/items'))).allowed).toBe(true);
      expect((await dp.decide(find('mongodb:orders/items', 'write'))).allowed).toBe(false);
      expect(opa.requestCount() - before).toBe(2);
      expect(dp.stats).toMatchObject({ cacheHits: 2, cacheMisses: 2, evaluations: 2 });
      // concurrent identical questions share one call
      const all = await Promise.all(Array.from({ length: 20 }, () => dp.decide(find('mongodb:orders/other'))));
      expect(all.every((d) => !d.allowed)).toBe(true);
      expect(opa.requestCount() - before).toBe(3);
    } finally {
      await dp.close();
    }
  });

  it('accepts a boolean result and checks every access of a multi-access request', async () => {
    opa.setEvaluator((_path, input) => input.resource !== 'mongodb:billing/x');
    const dp = new OpaDecisionPoint({ url: opa.url, path: 'p', cacheTtlMs: 0 });
    try {
      expect((await dp.decide(find('mongodb:orders/a'))).allowed).toBe(true);
      const multi: DecisionRequest = { subject: svc, system: 'mongodb', operation: 'aggregate', accesses: [{ resource: 'mongodb:orders/a', action: 'read' }, { resource: 'mongodb:billing/x', action: 'write' }] };
      expect(await dp.decide(multi)).toMatchObject({ allowed: false, deniedAccess: { resource: 'mongodb:billing/x' } });
      // local hardening runs before OPA is asked
      const n = opa.requestCount();
      expect(await dp.decide(find('mongodb:orders/%2e%2e'))).toMatchObject({ allowed: false, code: 'invalid_resource' });
      expect(await dp.decide({ ...find('x'), accesses: [] })).toMatchObject({ allowed: false, code: 'unknown_operation' });
      expect(opa.requestCount()).toBe(n);
    } finally {
      opa.setEvaluator(ruleTable([{ subject: svc, action: 'read', resource: 'mongodb:orders/items', ruleId: 'orders-read' }]));
      await dp.close();
    }
  });

  it('fails closed: 500, timeout, invalid answers, unreachable — deny with a remediation that says so', async () => {
    const dp = new OpaDecisionPoint({ url: opa.url, path: 'secure_nosql/allow', cacheTtlMs: 60_000, timeoutMs: 150 });
    try {
      opa.failNext(1, 500);
      const e500 = await dp.decide(find('mongodb:orders/items'));
      expect(e500).toMatchObject({ allowed: false, code: 'unavailable' });
      expect(e500.reason).toContain('HTTP 500');
      expect(e500.remediation).toContain('could not be reached');
      // failures are not cached: the next call asks again and is allowed
      expect((await dp.decide(find('mongodb:orders/items'))).allowed).toBe(true);

      for (const kind of ['not-json', 'no-result', 'wrong-type'] as const) {
        opa.answerInvalidNext(1, kind);
        const d = await dp.decide(find(`mongodb:orders/invalid-${kind}`));
        expect(d, kind).toMatchObject({ allowed: false, code: 'invalid_answer' });
        expect(d.remediation).toContain('answered invalidly');
      }

      opa.setLatency(1000);
      const slow = await dp.decide(find('mongodb:orders/slow'));
      expect(slow).toMatchObject({ allowed: false, code: 'unavailable' });
      expect(slow.reason).toContain('did not answer within 150 ms');
      // the caller's own signal ends its wait (deny) without cancelling the shared call
      opa.setLatency(100);
      const ac = new AbortController();
      const pending = dp.decide(find('mongodb:orders/abort'), ac.signal);
      ac.abort();
      expect(await pending).toMatchObject({ allowed: false, reason: 'the caller aborted the decision' });
      opa.setLatency(0);
    } finally {
      opa.setLatency(0);
      await dp.close();
    }
    const unreachable = new OpaDecisionPoint({ url: 'http://127.0.0.1:1', path: 'x', timeoutMs: 1000 });
    try {
      const d = await unreachable.decide(find('mongodb:orders/items'));
      expect(d).toMatchObject({ allowed: false, code: 'unavailable' });
      expect(d.reason).toContain('unreachable');
    } finally {
      await unreachable.close();
    }
  });

  it('rejects a bad configuration with CONFIG_INVALID', () => {
    expect(() => new OpaDecisionPoint({ url: 'not a url', path: 'x' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new OpaDecisionPoint({ url: 'ftp://x', path: 'x' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    try {
      new OpaDecisionPoint({ url: 'http://127.0.0.1:1', path: '../etc' });
    } catch (e) {
      expect(hasErrorCode(e, 'CONFIG_INVALID')).toBe(true);
      return;
    }
    throw new Error('expected CONFIG_INVALID');
  });
});
