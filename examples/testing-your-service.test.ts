/**
 * How to test YOUR service that uses secure-nosql — no cloud, no real issuer,
 * no real certificates: `createTestPki` writes a workload certificate in the
 * layout cert-manager uses, `MockTokenIssuer` is a real OAuth 2.0 token
 * endpoint (mTLS client auth, JWKS, certificate-bound tokens) on 127.0.0.1,
 * and the "upstream" is a tiny HTTPS server written right here in the test.
 *
 * In your project the imports are:
 *
 *   import { createSecureClientFactory, isSecureNosqlError, type SecureClientFactory } from 'secure-nosql';
 *   import { createTestPki, MockTokenIssuer, type TestPki } from 'secure-nosql/testing';
 *
 * This repository imports the sources instead, so the example runs without a build.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSecureNosqlError } from '../src/errors/index.js';
import { createSecureClientFactory, type SecureClientFactory } from '../src/factory.js';
import { MockTokenIssuer } from '../src/testing/issuer/index.js';
import { createTestPki, type TestPki } from '../src/testing/pki/index.js';

// ── the code under test: a small service of yours ───────────────────────────

interface Order {
  readonly id: string;
  readonly total: number;
}

/** Your service's own error, so callers need not know about secure-nosql. */
class OrderServiceError extends Error {
  constructor(
    readonly kind: 'not_found' | 'forbidden' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}

/** The service: reads and cancels orders on the orders API as its workload identity. */
function createOrderService(secure: SecureClientFactory, origin: string) {
  const api = secure.http({ origin, audience: 'orders-api' });
  const call = async (method: string, path: string): Promise<unknown> => {
    try {
      const res = await api.request({ method, path, route: '/orders/:id' });
      if (res.statusCode === 404) {
        await res.body.dump();
        throw new OrderServiceError('not_found', `no order at ${path}`);
      }
      return await res.body.json();
    } catch (error) {
      // Map the library's stable codes to what your callers care about.
      if (isSecureNosqlError(error) && (error.code === 'ACCESS_DENIED' || error.code === 'POLICY_DENIED')) {
        throw new OrderServiceError('forbidden', `${method} ${path} is not allowed (${error.code})`);
      }
      if (isSecureNosqlError(error)) throw new OrderServiceError('unavailable', `${method} ${path} failed (${error.code})`);
      throw error;
    }
  };
  return {
    getOrder: async (id: string) => (await call('GET', `/orders/${encodeURIComponent(id)}`)) as Order,
    cancelOrder: async (id: string) => call('DELETE', `/orders/${encodeURIComponent(id)}`),
  };
}

// ── the test world ───────────────────────────────────────────────────────────

const SERVICE_ID = 'spiffe://example.test/ns/shop/sa/checkout';

/** A tiny orders API: client certificate required, bearer token verified with the issuer's keys. */
class FakeOrdersApi {
  readonly server: Server;
  readonly seen: { method: string; subject: string | undefined; clientCertUri: string | undefined }[] = [];
  /** Answer the next N requests with 401 invalid_token (as after a key rotation). */
  rejectTokens = 0;
  /** Answer with 403 (the store's own authorization says no). */
  forbid = false;

  constructor(pki: TestPki, issuer: MockTokenIssuer, cert: { certificatePem: string; privateKeyPem: string }) {
    this.server = createServer({ cert: cert.certificatePem, key: cert.privateKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      void (async () => {
        if (!(req.socket instanceof TLSSocket)) throw new Error('HTTPS only');
        const peer = req.socket.getPeerCertificate();
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        let subject: string | undefined;
        try {
          if (token === undefined || this.rejectTokens-- > 0) throw new Error('rejected');
          subject = (await issuer.verifyAccessToken(token, { audience: 'orders-api' })).subject;
        } catch {
          res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
          return;
        } finally {
          this.seen.push({ method: req.method ?? '', subject, clientCertUri: peer.subjectaltname });
        }
        if (this.forbid) {
          res.writeHead(403).end();
          return;
        }
        const id = /^\/orders\/([^/]+)$/.exec(req.url ?? '')?.[1];
        if (id !== 'o-1') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, total: 42 }));
      })();
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('my order service', () => {
  let dir: string;
  let pki: TestPki;
  let issuer: MockTokenIssuer;
  let api: FakeOrdersApi;
  let secure: SecureClientFactory;
  let service: ReturnType<typeof createOrderService>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'my-service-test-'));
    pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
    issuer = new MockTokenIssuer({ pki, clients: [{ id: SERVICE_ID, audiences: ['orders-api'] }] });
    await issuer.start();
    api = new FakeOrdersApi(pki, issuer, await pki.issueServer());
    const origin = await api.start();
    // The same factory your production code builds, pointed at the test PKI and issuer.
    secure = await createSecureClientFactory({
      identity: { serviceId: SERVICE_ID, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
      policy: { version: 1, services: [{ id: SERVICE_ID, rules: [{ id: 'orders-read', resources: [`http:${origin}/orders/*`], actions: ['read'] }] }] },
    });
    service = createOrderService(secure, origin);
  });

  afterAll(async () => {
    await secure.close();
    await api.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    api.seen.length = 0;
    api.rejectTokens = 0;
    api.forbid = false;
  });

  it('reads an order as its workload identity (client certificate + token for the orders API)', async () => {
    await expect(service.getOrder('o-1')).resolves.toEqual({ id: 'o-1', total: 42 });
    expect(api.seen).toEqual([{ method: 'GET', subject: SERVICE_ID, clientCertUri: `URI:${SERVICE_ID}` }]);
  });

  it('maps a missing order to not_found', async () => {
    await expect(service.getOrder('nope')).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('survives a rejected token: one refresh at the issuer, one retry', async () => {
    const before = issuer.requestCount('token');
    api.rejectTokens = 1;
    await expect(service.getOrder('o-1')).resolves.toMatchObject({ id: 'o-1' });
    expect(issuer.requestCount('token') - before).toBe(1);
    expect(api.seen.map((s) => s.subject)).toEqual([undefined, SERVICE_ID]);
  });

  it('reports forbidden when the API answers 403, without retrying', async () => {
    api.forbid = true;
    await expect(service.getOrder('o-1')).rejects.toMatchObject({ kind: 'forbidden' });
    expect(api.seen).toHaveLength(1);
  });

  it('cannot cancel orders: the policy only grants read, so nothing is sent', async () => {
    await expect(service.cancelOrder('o-1')).rejects.toMatchObject({ kind: 'forbidden', message: expect.stringContaining('POLICY_DENIED') });
    expect(api.seen).toHaveLength(0);
  });

  it('fails cleanly, sending nothing, when the issuer refuses to issue a token', async () => {
    // A fresh factory has no cached token; the issuer rejects the next token request (as for a revoked registration).
    const fresh = await createSecureClientFactory({
      identity: { serviceId: SERVICE_ID, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
    });
    try {
      issuer.failNext(1, { status: 400, error: 'invalid_client', endpoint: 'token' });
      const origin = `https://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
      await expect(createOrderService(fresh, origin).getOrder('o-1')).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('AUTH_REJECTED') });
      expect(api.seen).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });
});
