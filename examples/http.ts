/**
 * A NoSQL HTTP API as a workload identity, end to end on one machine:
 *
 *   test PKI ─▶ workload certificate dir ─▶ mTLS token request (cnf-bound token)
 *   ─▶ guarded undici dispatcher (policy ▸ retries ▸ bearer token ▸ mTLS with the
 *   current certificate, server checked by SPIFFE ID and SPKI pin) ─▶ document API
 *
 * Run: `npx tsx examples/http.ts`. Everything binds to 127.0.0.1 and is removed
 * at the end. In production only the `createSecureClientFactory` and
 * `secure.http(...)` parts remain.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch, request } from 'undici';
import { MemoryAuditSink } from '../src/audit/index.js';
import { spkiPin } from '../src/certificates/index.js';
import { isSecureNosqlError } from '../src/errors/index.js';
import { createSecureClientFactory } from '../src/factory.js';
import { MockTokenIssuer } from '../src/testing/issuer/index.js';
import { createTestPki } from '../src/testing/pki/index.js';
import { createJwksVerifier, DocApiServer } from '../test/fixtures/doc-api-server.js';

const serviceId = 'spiffe://example.test/ns/orders/sa/orders-api';
const docsId = 'spiffe://example.test/ns/docs/sa/docs-api';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-example-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId });
  const issuer = new MockTokenIssuer({ pki, clients: [{ id: serviceId, audiences: ['docs-api'], roles: ['docs-rw'] }] });
  await issuer.start();
  // The document API: client certificates required, bearer tokens checked against the issuer's JWKS and the cnf binding.
  const serverCert = await pki.issueServer({ spiffeId: docsId });
  const verifier = createJwksVerifier({ jwksUrl: issuer.jwksUrl, audience: 'docs-api', ca: pki.caCertPem });
  const api = await new DocApiServer({ cert: serverCert.certificatePem, key: serverCert.privateKeyPem, ca: pki.caCertPem, verifyToken: verifier.verify }).start();

  const audit = new MemoryAuditSink();
  const secure = await createSecureClientFactory({
    identity: { serviceId, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
    policy: {
      version: 1,
      services: [{ id: serviceId, rules: [{ id: 'docs-rw', resources: [`http:${api.origin}/v1/docs/*`], actions: ['read', 'write'] }] }],
    },
    audit,
  });
  try {
    const docs = secure.http({ origin: api.origin, audience: 'docs-api', serverId: docsId, pins: [spkiPin(serverCert.certificatePem)] });

    const put = await docs.request({ method: 'PUT', path: '/v1/docs/42', body: JSON.stringify({ sku: 'a1', quantity: 2 }), route: '/v1/docs/:id' });
    console.log('PUT /v1/docs/42 →', put.statusCode);
    await put.body.dump();

    const get = await docs.request({ method: 'GET', path: '/v1/docs/42', route: '/v1/docs/:id' });
    console.log('GET /v1/docs/42 →', get.statusCode, await get.body.json());

    // The dispatcher works with undici's own APIs; every request still goes through the guard.
    const viaFetch = await fetch(`${api.origin}/v1/docs/42`, { dispatcher: docs.dispatcher });
    console.log('fetch →', viaFetch.status, await viaFetch.json());

    // A stale token is refreshed and the request retried once, invisibly.
    api.rejectNextTokens(1);
    const retried = await request(`${api.origin}/v1/docs/42`, { dispatcher: docs.dispatcher });
    console.log('after a 401 invalid_token →', retried.statusCode, `(issuer token requests: ${issuer.requestCount('token')})`);
    await retried.body.dump();

    // Least privilege: dot segments are resolved first, so this is judged (and denied) as /v1/admin.
    for (const path of ['/v1/docs/../admin', '/v1/docs/%2e%2e/admin']) {
      try {
        await docs.request({ method: 'GET', path });
      } catch (error) {
        if (!isSecureNosqlError(error)) throw error;
        console.log(`${path} denied before sending: ${error.code}`);
      }
    }

    // The token never goes to another origin (the same server under another name is another origin).
    try {
      await fetch(`${api.localhostOrigin}/v1/docs/42`, { dispatcher: docs.dispatcher });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      console.log('another origin:', isSecureNosqlError(cause) ? cause.code : error);
    }

    console.log(`requests at the API: ${api.requestCount()}, authorized: ${api.authorizedCount}`);
    for (const r of audit.records) console.log(`audit ${r.kind.padEnd(8)} ${r.operation.padEnd(6)} ${r.resource.padEnd(48)} ${r.decision} ${r.outcome ?? ''}`);
  } finally {
    await secure.close();
    await api.close();
    await verifier.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
