import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../src/audit/index.js';
import { hasErrorCode, isSecureNosqlError } from '../../src/errors/index.js';
import { createSecureClientFactory } from '../../src/factory.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { DocApiServer, createJwksVerifier } from '../fixtures/doc-api-server.js';

const serviceId = 'spiffe://example.test/ns/orders/sa/orders-api';

let dir: string;
let pki: TestPki;
let issuer: MockTokenIssuer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sn-factory-'));
  pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId });
  issuer = new MockTokenIssuer({ pki, clients: [{ id: serviceId, audiences: ['docs-api', 'orders-db'], tokenTtlSeconds: 300 }] });
  await issuer.start();
});

afterAll(async () => {
  await issuer.close();
  await rm(dir, { recursive: true, force: true });
});

function identity(): Parameters<typeof createSecureClientFactory>[0] & object {
  return { identity: { serviceId, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } } };
}

async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('createSecureClientFactory', () => {
  it('reads the identity from SECURE_NOSQL_* variables when none is given', async () => {
    const saved = { ...process.env };
    process.env['SECURE_NOSQL_SERVICE_ID'] = serviceId;
    process.env['SECURE_NOSQL_CERT_DIR'] = pki.identityDir;
    process.env['SECURE_NOSQL_ISSUER'] = issuer.url;
    process.env['SECURE_NOSQL_CLIENT_AUTH'] = 'tls_client_auth';
    try {
      const secure = await createSecureClientFactory();
      expect(secure.serviceId).toBe(serviceId);
      expect(secure.certificates.current().spiffeId).toBe(serviceId);
      const token = await secure.tokens.getToken('docs-api');
      expect(token.audience).toBe('docs-api');
      await secure.close();
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) Reflect.deleteProperty(process.env, key);
    }
  });

  it('fails closed with CONFIG_INVALID on an invalid policy document, before loading anything', async () => {
    const error = await thrown(() => createSecureClientFactory({ ...identity(), policy: { version: 1, services: [{ id: serviceId, rules: [{ id: 'x', resources: ['mongodb:orders/*'], actions: ['delete'] }] }] } }));
    expect(hasErrorCode(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('actions[0]');
  });

  it('fails with CONFIG_INVALID naming the field for a bad identity', async () => {
    const error = await thrown(() => createSecureClientFactory({ identity: { serviceId: 'https://not-spiffe', certificates: { dir: pki.identityDir } } }));
    expect(hasErrorCode(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('serviceId');
  });

  it('explains and decides through secure.policy with the service as subject', async () => {
    const secure = await createSecureClientFactory({
      ...identity(),
      policy: { version: 1, services: [{ id: serviceId, rules: [{ id: 'orders-read', resources: ['mongodb:orders/*'], actions: ['read'] }] }] },
    });
    try {
      const allowed = await secure.policy.decide({ system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:orders/items', action: 'read' }] });
      expect(allowed).toMatchObject({ allowed: true, ruleId: 'orders-read' });
      const denied = await secure.policy.decide({ system: 'mongodb', operation: 'insertOne', accesses: [{ resource: 'mongodb:orders/items', action: 'write' }] });
      expect(denied.allowed).toBe(false);
      const explanation = secure.policy.explain({ system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:orders-evil/items', action: 'read' }] });
      expect(explanation.decision.allowed).toBe(false);
      expect(explanation.subject).toBe(serviceId);
    } finally {
      await secure.close();
    }
  });

  it('close({ revokeTokens }) revokes cached tokens at the issuer, and a closed factory refuses new clients', async () => {
    const secure = await createSecureClientFactory(identity());
    const token = await secure.tokens.getToken('orders-db');
    const before = issuer.requestCount('revoke');
    await secure.close({ revokeTokens: true });
    expect(issuer.requestCount('revoke')).toBe(before + 1);
    const verified = await issuer.verifyAccessToken(token.value, { audience: 'orders-db' }).then(
      () => 'active',
      () => 'rejected',
    );
    expect(verified).toBe('rejected');
    expect(() => secure.http({ origin: 'https://127.0.0.1:1', audience: 'docs-api' })).toThrow(/closed/);
  });

  it('a hanging issuer does not hold close({ revokeTokens }) past its deadline', async () => {
    const secure = await createSecureClientFactory(identity());
    await secure.tokens.getToken('docs-api');
    issuer.hang('revoke');
    try {
      const started = Date.now();
      await secure.close({ revokeTokens: true, deadlineMs: 300 });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      issuer.resume();
    }
  });

  it('serves an HTTP client end to end and leaves no socket, watcher or timer behind after close()', async () => {
    const server = await pki.issueServer({ spiffeId: 'spiffe://example.test/ns/docs/sa/docs-api' });
    const verifier = createJwksVerifier({ jwksUrl: issuer.jwksUrl, audience: 'docs-api', ca: pki.caCertPem });
    const api = await new DocApiServer({ cert: server.certificatePem, key: server.privateKeyPem, ca: pki.caCertPem, verifyToken: verifier.verify }).start();
    const audit = new MemoryAuditSink();
    const baseline = new Set(process.getActiveResourcesInfo());
    const secure = await createSecureClientFactory({ ...identity(), audit });
    try {
      const docs = secure.http({ origin: api.origin, audience: 'docs-api', serverId: 'spiffe://example.test/ns/docs/sa/docs-api' });
      const put = await docs.request({ method: 'PUT', path: '/v1/docs/7', body: '{"a":1}' });
      await put.body.dump();
      expect(put.statusCode).toBeLessThan(300);
      const got = await docs.request({ method: 'GET', path: '/v1/docs/7' });
      expect(await got.body.json()).toEqual({ a: 1 });
      expect(audit.records.filter((r) => r.kind === 'outcome').map((r) => r.outcome)).toEqual(['ok', 'ok']);
    } finally {
      await secure.close();
      await api.close();
      await verifier.close();
    }
    // Give closed sockets a tick to be released, then compare against what existed before the factory.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const leftover = process.getActiveResourcesInfo().filter((r) => !baseline.has(r) && r !== 'TTYWrap');
    expect(leftover.filter((r) => r === 'FSEventWrap' || r === 'TLSWrap' || r === 'TCPSocketWrap')).toEqual([]);
  });

  it('audit completeness: every operation of a mixed run has exactly one decision and one outcome record, none with a token', async () => {
    const server = await pki.issueServer({ spiffeId: 'spiffe://example.test/ns/docs/sa/docs-api' });
    const verifier = createJwksVerifier({ jwksUrl: issuer.jwksUrl, audience: 'docs-api', ca: pki.caCertPem });
    const api = await new DocApiServer({ cert: server.certificatePem, key: server.privateKeyPem, ca: pki.caCertPem, verifyToken: verifier.verify }).start();
    const audit = new MemoryAuditSink();
    const secure = await createSecureClientFactory({
      ...identity(),
      audit,
      resilience: { retry: { baseDelayMs: 1, maxDelayMs: 5 } },
      policy: { version: 1, services: [{ id: serviceId, rules: [{ id: 'docs-rw', resources: [`http:${api.origin}/v1/docs/*`], actions: ['read', 'write'] }] }] },
    });
    const outcomes: string[] = [];
    const run = async (work: () => Promise<{ body: { dump(): Promise<void> } }>): Promise<void> => {
      try {
        const res = await work();
        await res.body.dump();
        outcomes.push('ok');
      } catch (error) {
        outcomes.push(isSecureNosqlError(error) ? error.code : 'other');
      }
    };
    try {
      const docs = secure.http({ origin: api.origin, audience: 'docs-api', serverId: 'spiffe://example.test/ns/docs/sa/docs-api' });
      await run(() => docs.request({ method: 'PUT', path: '/v1/docs/1', body: '{}' }));
      await run(() => docs.request({ method: 'GET', path: '/v1/admin' }));
      api.failNext(1, { status: 403 });
      await run(() => docs.request({ method: 'GET', path: '/v1/docs/1' }));
      api.failNext(1, { status: 503 });
      await run(() => docs.request({ method: 'GET', path: '/v1/docs/1' }));
      api.rejectNextTokens(1);
      await run(() => docs.request({ method: 'GET', path: '/v1/docs/1' }));
      const token = await secure.tokens.getToken('docs-api');
      expect(outcomes).toEqual(['ok', 'POLICY_DENIED', 'ACCESS_DENIED', 'ok', 'ok']);
      const decisions = audit.records.filter((r) => r.kind === 'decision');
      const outcomeRecords = audit.records.filter((r) => r.kind === 'outcome');
      expect(decisions).toHaveLength(5);
      expect(outcomeRecords.map((r) => r.outcome)).toEqual(['ok', 'POLICY_DENIED', 'ACCESS_DENIED', 'ok', 'ok']);
      expect(JSON.stringify(audit.records)).not.toContain(token.value);
    } finally {
      await secure.close();
      await api.close();
      await verifier.close();
    }
  });

  it('errors carry a code, a remediation and a public view without details', async () => {
    const error = await thrown(() => createSecureClientFactory({ identity: { serviceId, certificates: { dir: join(dir, 'missing') } } }));
    expect(isSecureNosqlError(error)).toBe(true);
    if (!isSecureNosqlError(error)) return;
    expect(error.remediation.length).toBeGreaterThan(10);
    const view = error.toPublic();
    expect(view.message).not.toContain(dir);
    expect(inspect(error)).toContain(error.code);
  });
});
