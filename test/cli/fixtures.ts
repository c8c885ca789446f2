import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';

export const TRUST_DOMAIN = 'example.test';
export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';
export const AUDIENCES = ['orders-db', 'docs-api'] as const;

/** A healthy workload: a fresh test PKI, a running mock issuer that knows the service, and the env that points at both. */
export interface Workload {
  readonly dir: string;
  readonly pki: TestPki;
  readonly issuer: MockTokenIssuer;
  /** SECURE_NOSQL_* variables of the healthy configuration. */
  env(overrides?: Record<string, string | undefined>): Record<string, string | undefined>;
  close(): Promise<void>;
}

export async function createWorkload(): Promise<Workload> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-doctor-'));
  const pki = await createTestPki({ dir, trustDomain: TRUST_DOMAIN, serviceId: SERVICE_ID });
  const issuer = new MockTokenIssuer({
    pki,
    clients: [{ id: SERVICE_ID, audiences: [...AUDIENCES], scopes: ['orders.read', 'orders.write'], tokenTtlSeconds: 300 }],
  });
  await issuer.start();
  return {
    dir,
    pki,
    issuer,
    env: (overrides = {}) => ({
      SECURE_NOSQL_SERVICE_ID: SERVICE_ID,
      SECURE_NOSQL_CERT_DIR: pki.identityDir,
      SECURE_NOSQL_ISSUER: issuer.url,
      SECURE_NOSQL_CLIENT_AUTH: 'tls_client_auth',
      SECURE_NOSQL_AUDIENCES: AUDIENCES.join(','),
      ...overrides,
    }),
    close: async () => {
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return port;
}

/**
 * A tiny HTTPS issuer whose clock is off by `skewSeconds` (default 0): it serves valid
 * RFC 8414 metadata with a `Date` header shifted by that much. `untrusted`
 * gives it a server certificate from a CA outside the workload's bundle.
 */
export async function startTinyIssuer(pki: TestPki, options: { skewSeconds?: number; untrusted?: boolean } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const skewSeconds = options.skewSeconds ?? 0;
  const cert = options.untrusted === true ? await pki.issue({ signedBy: 'untrusted', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }) : await pki.issueServer();
  let url = '';
  const server: Server = createHttpsServer({ cert: cert.certificatePem, key: cert.privateKeyPem }, (req, res) => {
    res.sendDate = false;
    res.setHeader('date', new Date(Date.now() + skewSeconds * 1000).toUTCString());
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ issuer: url, token_endpoint: `${url}/token`, token_endpoint_auth_methods_supported: ['tls_client_auth'] }),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => { resolve(); });
      }),
  };
}
