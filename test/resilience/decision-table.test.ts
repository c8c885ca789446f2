import { afterEach, describe, expect, it } from 'vitest';
import { hasErrorCode, isSecureNosqlError, SecureNosqlError } from '../../src/errors/index.js';
import { createGuard, type GuardPipeline } from '../../src/resilience/index.js';
import { allowAll, classify, credentialHook, instantSleep, op, scripted } from './fixtures.js';

const guards: GuardPipeline[] = [];
function guard(extra: Parameters<typeof createGuard>[0] extends infer O ? Partial<O> : never = {}) {
  const g = createGuard({ serviceId: 'spiffe://test/ns/a/sa/orders', decisionPoint: allowAll, random: () => 1, ...extra });
  guards.push(g);
  return g;
}
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
});

async function failure(p: Promise<unknown>): Promise<SecureNosqlError> {
  try {
    await p;
  } catch (error) {
    expect(isSecureNosqlError(error)).toBe(true);
    return error as SecureNosqlError;
  }
  throw new Error('expected a failure');
}

describe('decision table (DESIGN.md §5)', () => {
  it('succeeds on the first attempt with one acquire and no refresh', async () => {
    const s = scripted<string>(['ok']);
    const cred = credentialHook();
    const g = guard();
    await expect(g.run({ op: op(), attempt: s.attempt, classify, credential: cred.hook })).resolves.toBe('result');
    expect(s.calls).toBe(1);
    expect(cred.acquired).toEqual([{ forceRefresh: false, token: 'token-1' }]);
    expect(s.contexts[0]).toMatchObject({ attempt: 1, credential: 'token-1' });
  });

  it('stale credential: invalidates that token, force-refreshes and retries exactly once', async () => {
    const s = scripted<string>([{ class: 'stale_credential', reason: 'mongo_391' }, 'ok']);
    const cred = credentialHook();
    const sleeper = instantSleep();
    await expect(guard({ sleep: sleeper.sleep }).run({ op: op(), attempt: s.attempt, classify, credential: cred.hook })).resolves.toBe('result');
    expect(s.calls).toBe(2);
    expect(cred.invalidated).toEqual(['token-1']);
    expect(cred.acquired).toEqual([
      { forceRefresh: false, token: 'token-1' },
      { forceRefresh: true, token: 'token-2' },
    ]);
    expect(s.contexts.map((c) => c.credential)).toEqual(['token-1', 'token-2']);
    expect(sleeper.delays).toEqual([]); // no backoff before the stale retry
  });

  it('a second stale credential is AUTH_REJECTED after exactly 2 attempts', async () => {
    const s = scripted<string>([{ class: 'stale_credential', reason: 'http_401_invalid_token' }]);
    const cred = credentialHook();
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify, credential: cred.hook }));
    expect(err.code).toBe('AUTH_REJECTED');
    expect(s.calls).toBe(2);
    expect(cred.invalidated).toEqual(['token-1']);
    expect(err.details).toMatchObject({ reason: 'http_401_invalid_token', attempts: 2 });
  });

  it('stale then definitive authentication failure is AUTH_REJECTED after 2 attempts', async () => {
    const s = scripted<string>([{ class: 'stale_credential', reason: 'mongo_391' }, { class: 'auth_rejected', reason: 'mongo_18' }]);
    const cred = credentialHook();
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify, credential: cred.hook }));
    expect(err.code).toBe('AUTH_REJECTED');
    expect(err.message).toContain('again after a fresh one was fetched');
    expect(s.calls).toBe(2);
  });

  it('auth_rejected: 1 attempt, no invalidate, no refresh', async () => {
    const s = scripted<string>([{ class: 'auth_rejected', reason: 'http_401' }, 'ok']);
    const cred = credentialHook();
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify, credential: cred.hook }));
    expect(err.code).toBe('AUTH_REJECTED');
    expect(s.calls).toBe(1);
    expect(cred.invalidated).toEqual([]);
    expect(cred.acquired).toHaveLength(1);
  });

  it('access_denied: 1 attempt, no invalidate, no refresh', async () => {
    const s = scripted<string>([{ class: 'access_denied', reason: 'mongo_13' }, 'ok']);
    const cred = credentialHook();
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify, credential: cred.hook }));
    expect(err.code).toBe('ACCESS_DENIED');
    expect(err.message).toContain('spiffe://test/ns/a/sa/orders');
    expect(s.calls).toBe(1);
    expect(cred.invalidated).toEqual([]);
    expect(cred.acquired).toHaveLength(1);
  });

  it('permanent: 1 attempt, UPSTREAM_ERROR with the driver error as cause', async () => {
    const s = scripted([{ class: 'permanent', reason: 'http_400' }, 'ok']);
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify }));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(s.calls).toBe(1);
    expect((err.cause as Error).name).toBe('DriverError');
  });

  it('transient: retried up to maxAttempts with full-jitter exponential backoff, then UPSTREAM_UNAVAILABLE', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503' }]);
    const sleeper = instantSleep();
    const g = guard({ sleep: sleeper.sleep, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 }, random: () => 0.5 });
    const err = await failure(g.run({ op: op(), attempt: s.attempt, classify }));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(s.calls).toBe(4);
    // random * min(max, base * 2^n): 0.5*100, 0.5*200, 0.5*min(300, 400)
    expect(sleeper.delays).toEqual([50, 100, 150]);
    expect(err.details).toMatchObject({ attempts: 4, retries: 3, reason: 'http_503', class: 'transient' });
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('transient then success: 2 attempts', async () => {
    const s = scripted([{ class: 'transient', reason: 'econnrefused' }, 'ok']);
    const sleeper = instantSleep();
    await expect(guard({ sleep: sleeper.sleep }).run({ op: op(), attempt: s.attempt, classify })).resolves.toBe('result');
    expect(s.calls).toBe(2);
    expect(sleeper.delays).toHaveLength(1);
  });

  it('jitter spans [0, ceiling): random() = 0 gives no delay', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503' }, 'ok']);
    const sleeper = instantSleep();
    await guard({ sleep: sleeper.sleep, random: () => 0 }).run({ op: op(), attempt: s.attempt, classify });
    expect(sleeper.delays).toEqual([0]);
  });

  it('honours Retry-After when it is longer than the jittered delay', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_429', retryAfterMs: 1500 }, 'ok']);
    const sleeper = instantSleep();
    await guard({ sleep: sleeper.sleep }).run({ op: op(), attempt: s.attempt, classify });
    expect(sleeper.delays).toEqual([1500]);
    expect(s.calls).toBe(2);
  });

  it('a Retry-After beyond maxRetryAfterMs fails at once instead of retrying early', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503', retryAfterMs: 120_000 }, 'ok']);
    const sleeper = instantSleep();
    const err = await failure(guard({ sleep: sleeper.sleep, retry: { maxRetryAfterMs: 10_000 } }).run({ op: op(), attempt: s.attempt, classify }));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(s.calls).toBe(1);
    expect(sleeper.delays).toEqual([]);
  });

  it('non-idempotent + ambiguous transient: 1 attempt unless opted in', async () => {
    const ambiguous = { class: 'transient', reason: 'econnreset', ambiguous: true } as const;
    const sleeper = instantSleep();
    const g = guard({ sleep: sleeper.sleep });
    const write = op({ operation: 'insertOne', idempotent: false, accesses: [{ resource: 'mongodb:orders/items', action: 'write' }] });
    const s1 = scripted([ambiguous, 'ok']);
    const err = await failure(g.run({ op: write, attempt: s1.attempt, classify }));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toContain('retryNonIdempotent');
    expect(s1.calls).toBe(1);

    const s2 = scripted([ambiguous, 'ok']);
    await expect(g.run({ op: write, attempt: s2.attempt, classify, retryNonIdempotent: true })).resolves.toBe('result');
    expect(s2.calls).toBe(2);

    // Unambiguous (nothing was sent) is retried even for a non-idempotent write.
    const s3 = scripted([{ class: 'transient', reason: 'econnrefused', ambiguous: false }, 'ok']);
    await expect(g.run({ op: write, attempt: s3.attempt, classify })).resolves.toBe('result');
    expect(s3.calls).toBe(2);
  });

  it('stale retry is extra to maxAttempts; transient retries stay bounded', async () => {
    const s = scripted<string>([{ class: 'stale_credential', reason: 'mongo_391' }, { class: 'transient', reason: 'http_503' }]);
    const cred = credentialHook();
    const err = await failure(guard({ sleep: instantSleep().sleep, retry: { maxAttempts: 2 } }).run({ op: op(), attempt: s.attempt, classify, credential: cred.hook }));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(s.calls).toBe(3); // 1 stale + 2 transient
    expect(cred.acquired.map((a) => a.forceRefresh)).toEqual([false, true, false]);
  });

  it('a SecureNosqlError thrown by the attempt passes through unchanged', async () => {
    const mine = new SecureNosqlError('TLS_PIN_MISMATCH', 'pin mismatch');
    const g = guard();
    await expect(g.run({ op: op(), attempt: () => Promise.reject(mine), classify })).rejects.toBe(mine);
  });

  it('a classifier that throws makes the failure permanent (no blind retries)', async () => {
    let calls = 0;
    const err = await failure(
      guard().run({
        op: op(),
        attempt: () => {
          calls++;
          return Promise.reject(new Error('x'));
        },
        classify: () => {
          throw new Error('broken classifier');
        },
      }),
    );
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(calls).toBe(1);
  });

  it('a failing credential hook surfaces as TOKEN_UNAVAILABLE and the attempt is not made', async () => {
    const s = scripted(['ok']);
    const err = await failure(
      guard().run({
        op: op(),
        attempt: s.attempt,
        classify,
        credential: { acquire: () => Promise.reject(new Error('boom')), invalidate: () => undefined },
      }),
    );
    expect(err.code).toBe('TOKEN_UNAVAILABLE');
    expect(s.calls).toBe(0);
    const tokenError = new SecureNosqlError('TOKEN_UNAVAILABLE', 'issuer down');
    await expect(
      guard().run({ op: op(), attempt: s.attempt, classify, credential: { acquire: () => Promise.reject(tokenError), invalidate: () => undefined } }),
    ).rejects.toBe(tokenError);
  });
});

describe('abort', () => {
  it('an already-aborted signal fails with ABORTED and no attempt', async () => {
    const s = scripted(['ok']);
    const ac = new AbortController();
    ac.abort();
    const err = await failure(guard().run({ op: op(), attempt: s.attempt, classify, signal: ac.signal }));
    expect(err.code).toBe('ABORTED');
    expect(s.calls).toBe(0);
  });

  it('aborting during a backoff sleep fails at once with ABORTED and clears the timer', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503', retryAfterMs: 20_000 }]);
    const ac = new AbortController();
    const g = guard({ retry: { maxRetryAfterMs: 60_000 } });
    const started = Date.now();
    const p = g.run({ op: op(), attempt: s.attempt, classify, signal: ac.signal });
    setTimeout(() => { ac.abort(new Error('caller gave up')); }, 20);
    const err = await failure(p);
    expect(err.code).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(s.calls).toBe(1);
  });

  it('an abort during the attempt is ABORTED even though the driver error looks transient', async () => {
    const ac = new AbortController();
    const g = guard({ sleep: instantSleep().sleep });
    let calls = 0;
    const err = await failure(
      g.run({
        op: op(),
        classify,
        signal: ac.signal,
        attempt: () => {
          calls++;
          ac.abort();
          return Promise.reject(new Error('socket closed'));
        },
      }),
    );
    expect(err.code).toBe('ABORTED');
    expect(calls).toBe(1);
  });

  it('close() cancels a pending backoff with CLOSED and later calls fail with CLOSED', async () => {
    const s = scripted([{ class: 'transient', reason: 'http_503', retryAfterMs: 20_000 }]);
    const g = guard({ retry: { maxRetryAfterMs: 60_000 } });
    const p = g.run({ op: op(), attempt: s.attempt, classify });
    await new Promise((r) => setTimeout(r, 20));
    await g.close();
    expect(hasErrorCode(await failure(p), 'CLOSED')).toBe(true);
    expect((await failure(g.run({ op: op(), attempt: s.attempt, classify }))).code).toBe('CLOSED');
  });
});
