import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/index.js';
import { loadCertificateSource, type FileCertificateSource } from '../../src/certificates/index.js';
import type { DriverContext } from '../../src/drivers/types.js';
import { createHttpClient, type SecureHttpClient, type SecureHttpOptions } from '../../src/drivers/http/index.js';
import { LocalDecisionPoint } from '../../src/policy/index.js';
import { createGuard, type GuardPipeline, type GuardOptions } from '../../src/resilience/index.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { OAuthTokenSource, TokenCache } from '../../src/tokens/index.js';
import { createJwksVerifier, DocApiServer, type DocApiServerOptions, type JwksVerifier } from '../fixtures/doc-api-server.js';

export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';
export const SERVER_ID = 'spiffe://example.test/ns/docs/sa/docs-api';
export const AUDIENCE = 'docs-api';

/** Everything an HTTP driver test needs, all real: PKI, certificate source, issuer, token cache, guard, doc API. */
export interface HttpFixture {
  readonly dir: string;
  readonly pki: TestPki;
  readonly certs: FileCertificateSource;
  readonly issuer: MockTokenIssuer;
  readonly tokens: TokenCache;
  readonly audit: MemoryAuditSink;
  readonly guard: GuardPipeline;
  readonly server: DocApiServer;
  /** Server certificate PEM (for pins). */
  readonly serverCertPem: string;
  /** A driver context over the fixture's parts (optionally another guard). */
  ctx(guard?: GuardPipeline): DriverContext;
  /** A guard with a local policy document for SERVICE_ID; closed by cleanup. */
  policyGuard(rules: readonly { id: string; resources: readonly string[]; actions: readonly ('read' | 'write' | 'admin')[] }[]): GuardPipeline;
  /** A guard with extra options (tracer provider, retry tuning); closed by cleanup. */
  makeGuard(extra: Partial<GuardOptions>): GuardPipeline;
  /** A client for the doc API (closed by cleanup). */
  client(options?: Partial<SecureHttpOptions>, guard?: GuardPipeline): SecureHttpClient;
  /** Another mTLS doc API with the same CA (closed by cleanup). */
  otherServer(options?: Partial<DocApiServerOptions>): Promise<DocApiServer>;
  cleanup(): Promise<void>;
}

/** Fast retries so decision-table tests take milliseconds. */
export const FAST_GUARD: Partial<GuardOptions> = {
  retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2_000 },
  breaker: { enabled: false },
  // Test files inject many faults against one target within seconds; the budget itself is tested in test/resilience.
  budget: { minRetriesPerWindow: 1_000 },
};

export async function createHttpFixture(serverOptions: Partial<DocApiServerOptions> & { serverSpiffeId?: string } = {}): Promise<HttpFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sn-http-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
  const certs = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 20, recheckIntervalMs: 0 });
  const issuer = new MockTokenIssuer({ pki, clients: [{ id: SERVICE_ID, audiences: [AUDIENCE, 'other-api'], tokenTtlSeconds: 300, roles: ['docs-rw'] }] });
  await issuer.start();
  const source = new OAuthTokenSource({
    issuer: issuer.url,
    clientAuth: { method: 'tls_client_auth' },
    clientId: SERVICE_ID,
    certificates: certs,
    ca: pki.caCertPem,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    attemptTimeoutMs: 2_000,
    rejectionFloorMs: 300,
  });
  const tokens = new TokenCache(source, { certificates: certs });
  const audit = new MemoryAuditSink();
  const guards: GuardPipeline[] = [];
  const makeGuard = (extra: Partial<GuardOptions> = {}): GuardPipeline => {
    const g = createGuard({ serviceId: SERVICE_ID, audit, ...FAST_GUARD, ...extra });
    guards.push(g);
    return g;
  };
  const guard = makeGuard();
  const serverCert = await pki.issueServer(serverOptions.serverSpiffeId === undefined ? {} : { spiffeId: serverOptions.serverSpiffeId });
  const verifiers: JwksVerifier[] = [];
  const verifier = (): JwksVerifier => {
    const v = createJwksVerifier({ jwksUrl: issuer.jwksUrl, audience: AUDIENCE, ca: pki.caCertPem });
    verifiers.push(v);
    return v;
  };
  const servers: DocApiServer[] = [];
  const makeServer = async (options: Partial<DocApiServerOptions> = {}): Promise<DocApiServer> => {
    const s = new DocApiServer({
      cert: serverCert.certificatePem,
      key: serverCert.privateKeyPem,
      ca: pki.caCertPem,
      verifyToken: verifier().verify,
      ...options,
    });
    servers.push(s);
    return s.start();
  };
  const server = await makeServer(serverOptions);
  const clients: SecureHttpClient[] = [];
  const ctx = (g: GuardPipeline = guard): DriverContext => ({ serviceId: SERVICE_ID, certificates: certs, tokens, guard: g });
  return {
    dir,
    pki,
    certs,
    issuer,
    tokens,
    audit,
    guard,
    server,
    serverCertPem: serverCert.certificatePem,
    ctx,
    makeGuard,
    policyGuard(rules) {
      const dp = new LocalDecisionPoint({ version: 1, services: [{ id: SERVICE_ID, rules }] });
      return makeGuard({ decisionPoint: dp });
    },
    client(options = {}, g) {
      const c = createHttpClient(ctx(g), { origin: server.origin, audience: AUDIENCE, ...options });
      clients.push(c);
      return c;
    },
    otherServer: makeServer,
    async cleanup() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled(servers.map((s) => s.close()));
      await Promise.allSettled(verifiers.map((v) => v.close()));
      await Promise.allSettled(guards.map((g) => g.close()));
      await tokens.close();
      await issuer.close();
      await certs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Awaits a rejection and returns it. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown>; cause?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Resolves on the next `rotated` event of `certs`. */
export function nextRotation(certs: FileCertificateSource): Promise<void> {
  return new Promise((resolve) => {
    const sub = certs.on((e) => {
      if (e.type === 'rotated') {
        sub.dispose();
        resolve();
      }
    });
  });
}
