import { afterEach, describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/resilience/retry-budget.js';
import { createGuard, type GuardPipeline } from '../../src/resilience/index.js';
import { allowAll, classify, instantSleep, op, scripted } from './fixtures.js';

const guards: GuardPipeline[] = [];
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
});

describe('retry budget', () => {
  it('caps retries during a simulated outage: attempts ≤ calls × (1 + ratio) + min', async () => {
    const now = 1_000_000;
    const g = createGuard({
      serviceId: 'spiffe://test/ns/a/sa/orders',
      decisionPoint: allowAll,
      sleep: instantSleep().sleep,
      now: () => now,
      retry: { maxAttempts: 3 },
      budget: { ratio: 0.1, minRetriesPerWindow: 10, windowMs: 10_000 },
      breaker: { errorThresholdPercentage: 100 }, // keep the breaker out of this test
    });
    guards.push(g);
    const s = scripted([{ class: 'transient', reason: 'http_503' }]);
    const codes = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const code = await g.run({ op: op(), attempt: s.attempt, classify }).then(
        () => 'ok',
        (e: unknown) => (e as { code: string }).code,
      );
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.get('UPSTREAM_UNAVAILABLE')).toBe(200);
    expect(s.calls).toBeLessThanOrEqual(200 * 1.1 + 10);
    expect(s.calls).toBeGreaterThan(200); // some retries did happen
    expect(g.breakerState('mongodb://orders-db:27017')).toBe('closed');
  });

  it('the budget is per target and refills as the window slides', () => {
    let now = 0;
    const b = new RetryBudget({ ratio: 0.5, minRetriesPerWindow: 1, windowMs: 1000 });
    for (let i = 0; i < 4; i++) b.recordCall(now);
    // 1 + 0.5 × 4 = 3 retries
    expect([b.tryRetry(now), b.tryRetry(now), b.tryRetry(now), b.tryRetry(now)]).toEqual([true, true, true, false]);
    now += 500;
    expect(b.tryRetry(now)).toBe(false);
    now += 600; // the first buckets fall out of the window
    expect(b.tryRetry(now)).toBe(true); // only the minimum is left: nothing recent
    expect(b.usage).toEqual({ calls: 0, retries: 1 });
    expect(b.tryRetry(now)).toBe(false);
  });

  it('rejects invalid options', () => {
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(RangeError);
    expect(() => createGuard({ serviceId: 'spiffe://t/x', budget: { windowMs: 0 } })).toThrow(/windowMs/);
    expect(() => createGuard({ serviceId: 'spiffe://t/x', retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });
});
