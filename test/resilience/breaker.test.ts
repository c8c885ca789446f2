import { afterEach, describe, expect, it } from 'vitest';
import { isSecureNosqlError, type SecureNosqlError } from '../../src/errors/index.js';
import { createGuard, type BreakerStateChange, type GuardOptions, type GuardPipeline } from '../../src/resilience/index.js';
import { allowAll, classify, instantSleep, op, scripted, type Step } from './fixtures.js';

const TARGET = 'mongodb://orders-db:27017';
const guards: GuardPipeline[] = [];
function guard(extra: Partial<GuardOptions> = {}): GuardPipeline {
  const g = createGuard({
    serviceId: 'spiffe://test/ns/a/sa/orders',
    decisionPoint: allowAll,
    sleep: instantSleep().sleep,
    retry: { maxAttempts: 1 },
    breaker: { volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeout: 40 },
    ...extra,
  });
  guards.push(g);
  return g;
}
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
});

async function outcome(g: GuardPipeline, step: Step): Promise<string> {
  const s = scripted([step]);
  try {
    await g.run({ op: op(), attempt: s.attempt, classify });
    return 'ok';
  } catch (error) {
    if (!isSecureNosqlError(error)) throw error;
    return (error).code;
  }
}
const transient: Step = { class: 'transient', reason: 'http_503' };
const authFail: Step = { class: 'auth_rejected', reason: 'http_401' };
const denied: Step = { class: 'access_denied', reason: 'mongo_13' };
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openBreaker(g: GuardPipeline): Promise<void> {
  for (let i = 0; i < 5; i++) await outcome(g, transient);
  expect(g.breakerState(TARGET)).toBe('open');
}

describe('circuit breaker per target', () => {
  it('100 consecutive authorization denials leave the breaker closed', async () => {
    const g = guard();
    for (let i = 0; i < 100; i++) expect(await outcome(g, denied)).toBe('ACCESS_DENIED');
    expect(g.breakerState(TARGET)).toBe('closed');
    // and 100 authentication failures and permanent errors too
    for (let i = 0; i < 100; i++) expect(await outcome(g, authFail)).toBe('AUTH_REJECTED');
    for (let i = 0; i < 100; i++) expect(await outcome(g, { class: 'permanent', reason: 'http_400' })).toBe('UPSTREAM_ERROR');
    expect(g.breakerState(TARGET)).toBe('closed');
    // transient faults still count: the neutral outcomes did not pad the stats with successes
    for (let i = 0; i < 5; i++) await outcome(g, transient);
    expect(g.breakerState(TARGET)).toBe('open');
  });

  it('open → CIRCUIT_OPEN at once, the attempt is not called; other targets are unaffected', async () => {
    const g = guard();
    await openBreaker(g);
    const s = scripted(['ok']);
    await expect(g.run({ op: op(), attempt: s.attempt, classify })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(s.calls).toBe(0);
    await expect(g.run({ op: op({ target: 'mongodb://other:27017' }), attempt: s.attempt, classify })).resolves.toBe('result');
    expect(s.calls).toBe(1);
  });

  it('an authentication failure during half-open leaves it half-open; a transient failure re-opens; a success closes', async () => {
    const g = guard();
    const changes: BreakerStateChange[] = [];
    g.onBreakerStateChange((c) => changes.push(c));
    await openBreaker(g);
    await wait(80);
    expect(g.breakerState(TARGET)).toBe('half_open');

    expect(await outcome(g, authFail)).toBe('AUTH_REJECTED');
    expect(g.breakerState(TARGET)).toBe('half_open');
    expect(await outcome(g, denied)).toBe('ACCESS_DENIED');
    expect(g.breakerState(TARGET)).toBe('half_open');

    expect(await outcome(g, transient)).toBe('UPSTREAM_UNAVAILABLE');
    expect(g.breakerState(TARGET)).toBe('open');
    expect(await outcome(g, 'ok')).toBe('CIRCUIT_OPEN');

    await wait(80);
    expect(g.breakerState(TARGET)).toBe('half_open');
    expect(await outcome(g, 'ok')).toBe('ok');
    expect(g.breakerState(TARGET)).toBe('closed');
    expect(changes.map((c) => `${c.previous}->${c.state}`)).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->open',
      'open->half_open',
      'half_open->closed',
    ]);
    expect(changes.every((c) => c.target === TARGET)).toBe(true);
  });

  it('half-open admits one probe; concurrent calls get CIRCUIT_OPEN without an attempt', async () => {
    const g = guard();
    await openBreaker(g);
    await wait(80);
    let release!: () => void;
    let probeCalls = 0;
    const probe = g.run({
      op: op(),
      classify,
      attempt: () => {
        probeCalls++;
        return new Promise<string>((resolve) => (release = () => { resolve('probe'); }));
      },
    });
    await wait(5);
    const s = scripted(['ok']);
    const others = await Promise.allSettled([1, 2, 3].map(() => g.run({ op: op(), attempt: s.attempt, classify })));
    expect(others.map((o) => (o.status === 'rejected' ? (o.reason as SecureNosqlError).code : 'ok'))).toEqual(['CIRCUIT_OPEN', 'CIRCUIT_OPEN', 'CIRCUIT_OPEN']);
    expect(s.calls).toBe(0);
    release();
    await expect(probe).resolves.toBe('probe');
    expect(probeCalls).toBe(1);
    expect(g.breakerState(TARGET)).toBe('closed');
  });

  it('a stale-credential probe frees the slot: its own refreshed retry becomes the probe and closes the breaker', async () => {
    const g = guard();
    await openBreaker(g);
    await wait(80);
    const s = scripted([{ class: 'stale_credential', reason: 'mongo_391' }, 'ok']);
    await expect(g.run({ op: op(), attempt: s.attempt, classify })).resolves.toBe('result');
    expect(s.calls).toBe(2);
    expect(g.breakerState(TARGET)).toBe('closed');
  });

  it('per-target overrides: a disabled breaker never opens', async () => {
    const g = guard({ breaker: { volumeThreshold: 5, resetTimeout: 40, targets: { [TARGET]: { enabled: false } } } });
    for (let i = 0; i < 20; i++) expect(await outcome(g, transient)).toBe('UPSTREAM_UNAVAILABLE');
    expect(g.breakerState(TARGET)).toBe('closed');
  });

  it('does not leak opossum error codes and redacts the target in errors and events', async () => {
    const secretTarget = 'mongodb://admin:hunter2-canary@orders-db:27017';
    const g = guard();
    const changes: BreakerStateChange[] = [];
    g.onBreakerStateChange((c) => changes.push(c));
    const s = scripted([transient]);
    for (let i = 0; i < 5; i++) await g.run({ op: op({ target: secretTarget }), attempt: s.attempt, classify }).catch(() => undefined);
    const err = (await g.run({ op: op({ target: secretTarget }), attempt: s.attempt, classify }).catch((e: unknown) => e)) as SecureNosqlError;
    expect(err.code).toBe('CIRCUIT_OPEN');
    const text = JSON.stringify(err) + err.message + JSON.stringify(changes);
    expect(text).not.toContain('hunter2-canary');
    expect(text).not.toContain('EOPENBREAKER');
    expect(err.cause).toBeUndefined();
  });

  it('close() shuts every breaker down: every timer it started is cleared', async () => {
    // Track live timers through the globals opossum and the guard call at run time.
    const live = new Set<unknown>();
    const orig = { setTimeout, setInterval, clearTimeout, clearInterval };
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const h = orig.setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    }) as typeof setTimeout;
    globalThis.setInterval = ((fn: () => void, ms?: number) => {
      const h = orig.setInterval(fn, ms);
      live.add(h);
      return h;
    });
    globalThis.clearTimeout = ((h: NodeJS.Timeout) => {
      live.delete(h);
      orig.clearTimeout(h);
    }) as typeof clearTimeout;
    globalThis.clearInterval = ((h: NodeJS.Timeout) => {
      live.delete(h);
      orig.clearInterval(h);
    }) as typeof clearInterval;
    try {
      const g = guard({ breaker: { volumeThreshold: 1, resetTimeout: 60_000 } });
      await outcome(g, transient);
      await outcome(g, 'ok');
      expect(g.breakerState(TARGET)).toBe('open');
      expect(live.size).toBeGreaterThanOrEqual(2); // rolling-window interval + reset timer
      await g.close();
      expect(live.size).toBe(0);
    } finally {
      Object.assign(globalThis, orig);
    }
  });
});
