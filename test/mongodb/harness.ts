import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/index.js';
import { loadCertificateSource, type FileCertificateSource } from '../../src/certificates/index.js';
import type { DriverContext } from '../../src/drivers/types.js';
import { compilePolicy, type PolicyDocument } from '../../src/policy/index.js';
import { createGuard, type GuardPipeline } from '../../src/resilience/index.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { createTokenSource, TokenCache } from '../../src/tokens/index.js';
import { startMongoWireServer, type MongoWireServer, type MongoWireServerOptions } from '../fixtures/mongo-wire-server.js';

export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';
export const AUDIENCE = 'orders-db';

/** Options of {@link createMongoHarness}. */
export interface HarnessOptions {
  readonly grants?: MongoWireServerOptions['grants'];
  readonly policy?: PolicyDocument;
  readonly tokenTtlSeconds?: number;
  /** Make the token verifier reject every token (a deregistered client). */
  readonly rejectTokens?: () => boolean;
}

/** Everything a MongoDB adapter test needs, all real: PKI, issuer, certificate source, token cache, guard, wire server. */
export interface MongoHarness {
  readonly dir: string;
  readonly pki: TestPki;
  readonly issuer: MockTokenIssuer;
  readonly server: MongoWireServer;
  readonly certificates: FileCertificateSource;
  readonly tokens: TokenCache;
  readonly guard: GuardPipeline;
  readonly audit: MemoryAuditSink;
  readonly ctx: DriverContext;
  close(): Promise<void>;
}

export async function createMongoHarness(options: HarnessOptions = {}): Promise<MongoHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-mongo-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
  const issuer = new MockTokenIssuer({
    pki,
    clients: [{ id: SERVICE_ID, audiences: [AUDIENCE], tokenTtlSeconds: options.tokenTtlSeconds ?? 300 }],
  });
  await issuer.start();
  const serverCert = await pki.issueServer();
  const server = await startMongoWireServer({
    cert: serverCert.certificatePem,
    key: serverCert.privateKeyPem,
    ca: pki.caCertPem,
    x509Principals: [SERVICE_ID],
    ...(options.grants === undefined ? {} : { grants: options.grants }),
    verifyToken: async (jwt) => {
      if (options.rejectTokens?.() === true) throw new Error('rejected by test');
      const v = await issuer.verifyAccessToken(jwt, { audience: AUDIENCE });
      return { subject: v.subject, expiresAt: v.expiresAt, jti: v.jti };
    },
  });
  const certificates = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 20, recheckIntervalMs: 0 });
  const source = createTokenSource({ issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } }, certificates, { serviceId: SERVICE_ID, ca: pki.caCertPem });
  const tokens = new TokenCache(source, { certificates });
  const audit = new MemoryAuditSink();
  const guard = createGuard({
    serviceId: SERVICE_ID,
    audit,
    ...(options.policy === undefined ? {} : { decisionPoint: compilePolicy(options.policy) }),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  });
  const ctx: DriverContext = { serviceId: SERVICE_ID, certificates, tokens, guard };
  return {
    dir,
    pki,
    issuer,
    server,
    certificates,
    tokens,
    guard,
    audit,
    ctx,
    async close() {
      await server.close();
      await guard.close();
      await tokens.close();
      await certificates.close();
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Connection string for the fixture with small timeouts so failures surface quickly. */
export function fixtureUri(server: MongoWireServer, db = 'orders'): string {
  return `mongodb://127.0.0.1:${server.port}/${db}?directConnection=true&serverSelectionTimeoutMS=3000`;
}
