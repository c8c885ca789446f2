import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCertificateSource, type FileCertificateSource } from '../../src/certificates/index.js';
import { MockTokenIssuer, type MockClientRegistration, type MockTokenIssuerOptions } from '../../src/testing/issuer/index.js';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { OAuthTokenSource, type OAuthTokenSourceOptions } from '../../src/tokens/index.js';

export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';

export interface Fixture {
  readonly dir: string;
  readonly pki: TestPki;
  readonly certs: FileCertificateSource;
  readonly issuer: MockTokenIssuer;
  /** An mTLS (tls_client_auth) issuer client with fast retries; closed by cleanup. */
  source(options?: Partial<OAuthTokenSourceOptions>): OAuthTokenSource;
  cleanup(): Promise<void>;
}

/** A temp dir, a test PKI, the real certificate source over its identity dir, and a started MockTokenIssuer. */
export async function createFixture(
  clients: (serviceId: string) => MockClientRegistration[] = (id) => [{ id, audiences: ['docs-api', 'orders-db'], tokenTtlSeconds: 300, roles: ['orders-rw'] }],
  issuerOptions: Partial<MockTokenIssuerOptions> = {},
): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sn-tokens-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
  const certs = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 20, recheckIntervalMs: 0 });
  const issuer = new MockTokenIssuer({ ...issuerOptions, pki, clients: clients(SERVICE_ID) });
  await issuer.start();
  const sources: OAuthTokenSource[] = [];
  return {
    dir,
    pki,
    certs,
    issuer,
    source(options = {}) {
      const s = new OAuthTokenSource({
        issuer: issuer.url,
        clientAuth: { method: 'tls_client_auth' },
        clientId: SERVICE_ID,
        certificates: certs,
        retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
        attemptTimeoutMs: 2_000,
        rejectionFloorMs: 300,
        ...options,
      });
      sources.push(s);
      return s;
    },
    async cleanup() {
      await Promise.all(sources.map((s) => s.close()));
      await issuer.close();
      await certs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Awaits a rejection and returns it. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}
