import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CertificateSource } from '../../src/certificates/index.js';
import { TokenCache } from '../../src/tokens/index.js';
import { createFixture, type Fixture } from './helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.issuer.resume();
  fx.issuer.resetCounters();
});

async function rotateAndWait(): Promise<void> {
  const before = fx.certs.current().generation;
  const rotated = new Promise<void>((resolve) => {
    const sub = fx.certs.on((e) => {
      if (e.type === 'rotated') {
        sub.dispose();
        resolve();
      }
    });
  });
  await fx.pki.rotate();
  await rotated;
  expect(fx.certs.current().generation).toBe(before + 1);
}

describe('certificate-bound tokens (cnf.x5t#S256)', () => {
  it('a certificate rotation purges bound tokens; the next token is bound to the new certificate', async () => {
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    const oldGen = fx.certs.current();
    const t1 = await cache.getToken('docs-api');
    const t1b = await cache.getToken('orders-db');
    expect(t1.certificateThumbprint).toBe(oldGen.thumbprintSha256);
    expect(await cache.getToken('docs-api')).toBe(t1);
    await rotateAndWait();
    const newGen = fx.certs.current();
    const t2 = await cache.getToken('docs-api');
    expect(t2).not.toBe(t1);
    expect(t2.certificateThumbprint).toBe(newGen.thumbprintSha256);
    expect(t2.certificateGeneration).toBe(newGen.generation);
    // the issuer saw the new client certificate (new connection), and bound the token to it
    expect((await fx.issuer.verifyAccessToken(t2.value, { audience: 'docs-api' })).certificateThumbprint).toBe(newGen.thumbprintSha256);
    expect(fx.issuer.requestCount('token')).toBe(3);
    // the other bound token was purged too
    expect(cache.invalidate('orders-db', t1b)).toBe(false);
    const t2b = await cache.getToken('orders-db');
    expect(t2b.certificateThumbprint).toBe(newGen.thumbprintSha256);
    await cache.close();
  });

  it('a bound token for an old certificate is never returned, even if the rotation event is missed', async () => {
    // A source whose events never arrive: only the get-time check protects the caller.
    const deaf: CertificateSource = {
      current: () => fx.certs.current(),
      on: () => ({ dispose: () => undefined }),
      close: () => Promise.resolve(),
    };
    const cache = new TokenCache(fx.source(), { certificates: deaf });
    const t1 = await cache.getToken('docs-api');
    await rotateAndWait();
    const t2 = await cache.getToken('docs-api');
    expect(t2).not.toBe(t1);
    expect(t2.certificateThumbprint).toBe(fx.certs.current().thumbprintSha256);
    await cache.close();
  });

  it('unbound tokens survive a rotation', async () => {
    fx.issuer.addClient({ id: fx.certs.current().spiffeId!, audiences: ['docs-api', 'orders-db'], bindToCertificate: false });
    const cache = new TokenCache(fx.source(), { certificates: fx.certs });
    const t1 = await cache.getToken('docs-api');
    expect(t1.certificateThumbprint).toBeUndefined();
    await rotateAndWait();
    expect(await cache.getToken('docs-api')).toBe(t1);
    expect(fx.issuer.requestCount('token')).toBe(1);
    await cache.close();
  });
});
