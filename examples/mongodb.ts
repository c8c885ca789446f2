/**
 * MongoDB as a workload identity, end to end on one machine:
 *
 *   test PKI ─▶ workload certificate dir ─▶ mTLS token request ─▶ MONGODB-OIDC
 *   (driver OIDC_CALLBACK served by the shared token cache) ─▶ guarded collection
 *   (policy ▸ audit ▸ breaker ▸ auth-aware retry) ─▶ MongoDB wire protocol over mTLS
 *
 * The server is this repository's wire-protocol test server (no MongoDB binary
 * needed): it requires client certificates, verifies tokens against the
 * issuer's JWKS and keeps documents in memory. Run: `npx tsx examples/mongodb.ts`.
 * Everything binds to 127.0.0.1 and is removed at the end. In production only
 * the `createSecureClientFactory` and `secure.mongodb(...)` parts remain.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryAuditSink } from '../src/audit/index.js';
import { isSecureNosqlError } from '../src/errors/index.js';
import { createSecureClientFactory } from '../src/factory.js';
import { MockTokenIssuer } from '../src/testing/issuer/index.js';
import { createTestPki } from '../src/testing/pki/index.js';
import { startMongoWireServer } from '../test/fixtures/mongo-wire-server.js';

const serviceId = 'spiffe://example.test/ns/orders/sa/orders-api';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-mongo-example-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId });
  const issuer = new MockTokenIssuer({ pki, clients: [{ id: serviceId, audiences: ['orders-db'] }] });
  await issuer.start();
  const serverCert = await pki.issueServer();
  const db = await startMongoWireServer({
    cert: serverCert.certificatePem,
    key: serverCert.privateKeyPem,
    ca: pki.caCertPem,
    verifyToken: async (jwt) => {
      const v = await issuer.verifyAccessToken(jwt, { audience: 'orders-db' });
      return { subject: v.subject, expiresAt: v.expiresAt, jti: v.jti };
    },
    grants: { [serviceId]: [{ db: 'orders', actions: ['read', 'write'] }] },
  });

  const audit = new MemoryAuditSink();
  const secure = await createSecureClientFactory({
    identity: { serviceId, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
    policy: {
      version: 1,
      services: [{ id: serviceId, rules: [{ id: 'orders-rw', resources: ['mongodb:orders/*'], actions: ['read', 'write'] }] }],
    },
    audit,
  });
  try {
    const mongo = await secure.mongodb({ uri: `mongodb://127.0.0.1:${db.port}/orders?directConnection=true`, audience: 'orders-db' });
    const items = mongo.db().collection<{ sku: string; qty: number }>('items');

    await items.insertMany([
      { sku: 'a1', qty: 2 },
      { sku: 'b7', qty: 5 },
      { sku: 'c3', qty: 1 },
    ]);
    await items.updateOne({ sku: 'a1' }, { $inc: { qty: 10 } });
    console.log('findOne a1 →', await items.findOne({ sku: 'a1' }, { projection: { _id: 0 } }));
    const totals = await items.aggregate([{ $group: { _id: null, total: { $sum: '$qty' } } }]).toArray();
    console.log('aggregate total →', totals[0]?.total);

    // A cursor pages with getMore; each batch is a guarded operation.
    let n = 0;
    for await (const doc of items.find({}, { batchSize: 1 }).sort({ sku: 1 })) {
      n++;
      console.log(`  cursor doc ${n}: ${doc.sku}`);
    }

    // The server asks for re-authentication (391): the driver re-authenticates once with the cached token.
    db.forceError('find', { code: 391 });
    console.log('after a forced 391 →', (await items.countDocuments({})) === 3 ? 'ok' : 'unexpected', `(issuer token requests: ${issuer.requestCount('token')})`);

    // Least privilege: $out to another database is a write there, denied before sending.
    for (const attempt of [() => items.aggregate([{ $out: { db: 'billing', coll: 'copy' } }]).toArray(), () => items.createIndex({ sku: 1 })]) {
      try {
        await attempt();
      } catch (error) {
        if (!isSecureNosqlError(error)) throw error;
        console.log(`denied before sending: ${error.code} (${error.message})`);
      }
    }

    // Certificate rotation: a new MongoClient presents the new certificate; the old one drains.
    const rotated = await pki.rotate();
    while (mongo.certificateGeneration < 2) await sleep(20);
    await items.findOne({});
    const presented = db.presentedCertificates().filter((c) => c.serialNumber === rotated.serialNumber).length;
    console.log(`rotated to generation ${mongo.certificateGeneration}; connections with the new certificate: ${presented}`);

    console.log(`issuer token requests: ${issuer.requestCount('token')}, server authentications: ${db.saslStartCount}`);
    for (const r of audit.records.filter((x) => x.kind === 'outcome')) {
      console.log(`audit ${r.operation.padEnd(14)} ${r.resource.padEnd(26)} ${r.decision} ${r.outcome ?? ''} attempts=${r.attempts ?? 0}`);
    }
  } finally {
    await secure.close();
    await db.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
