import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMongoClient, type SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import { AUDIENCE, createMongoHarness, fixtureUri, type MongoHarness } from './harness.js';
import { defineCrudSuite } from './crud-suite.js';

describe('guarded MongoDB CRUD against the wire-protocol fixture (real driver, mTLS, MONGODB-OIDC)', () => {
  let h: MongoHarness;
  let mongo: SecureMongoClient;

  beforeAll(async () => {
    h = await createMongoHarness();
    mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), audience: AUDIENCE });
  });

  afterAll(async () => {
    await mongo.close();
    await h.close();
  });

  defineCrudSuite(() => mongo, 'crud_fixture');

  test('every batch of a cursor is a guarded operation: the first fetch and each getMore', async () => {
    const c = mongo.collection('orders', 'batches');
    await c.insertMany(Array.from({ length: 25 }, (_, i) => ({ i })));
    const before = h.audit.ofKind('outcome').length;
    const getMoresBefore = h.server.commandCount('getMore');
    const docs = await c.find({}).sort({ i: 1 }).batchSize(10).toArray();
    expect(docs.map((d) => d.i as number)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    const outcomes = h.audit.ofKind('outcome').slice(before);
    expect(outcomes.map((r) => r.operation)).toEqual(['find', 'getMore', 'getMore']);
    expect(outcomes.every((r) => r.outcome === 'ok' && r.resource === 'mongodb:orders/batches' && r.action === 'read')).toBe(true);
    expect(h.server.commandCount('getMore') - getMoresBefore).toBe(2);
  });

  test('async iteration and early close kill the server cursor', async () => {
    const c = mongo.collection('orders', 'iter');
    await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ i })));
    const seen: number[] = [];
    for await (const doc of c.find({}, { batchSize: 5 }).sort({ i: 1 })) {
      seen.push(doc.i as number);
      if (seen.length === 7) break;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(h.server.commandLog().filter((e) => e.command === 'killCursors' && e.collection === 'iter')).toHaveLength(1);
  });

  test('aggregate cursors page with getMore and are guarded per batch', async () => {
    const c = mongo.collection('orders', 'agg_pages');
    await c.insertMany(Array.from({ length: 12 }, (_, i) => ({ i, even: i % 2 === 0 })));
    const cursor = c.aggregate<{ i: number }>([{ $match: { even: true } }, { $sort: { i: -1 } }], { batchSize: 2 });
    const first = await cursor.next();
    expect(first?.i).toBe(10);
    expect(await cursor.hasNext()).toBe(true);
    const rest = await cursor.toArray();
    expect(rest.map((d) => d.i)).toEqual([8, 6, 4, 2, 0]);
    expect(cursor.closed).toBe(true);
  });
});

/*
 * The same CRUD suite against a real deployment, registered only when
 * MONGODB_URI is set (never skipped: without it these tests do not exist).
 *   MONGODB_URI          mongodb://host:port/?replicaSet=... (TLS required, no credentials)
 *   MONGODB_CERT_DIR     workload certificate directory (cert-manager or spiffe-helper layout)
 *   MONGODB_SERVICE_ID   the workload SPIFFE ID (optional; checked against the certificate when set)
 *   MONGODB_AUTH         'x509' (default) or 'oidc'
 *   MONGODB_AUDIENCE     token audience (oidc)
 *   MONGODB_TOKEN_FILE   a token file for that audience (oidc), or
 *   MONGODB_TOKEN_ISSUER an issuer URL reached with tls_client_auth (oidc)
 *   MONGODB_DB           database the identity may use (default secure_nosql_test)
 */
const realUri = process.env.MONGODB_URI;
if (realUri !== undefined && realUri !== '') {
  describe('guarded MongoDB CRUD against MONGODB_URI', () => {
    let mongo: SecureMongoClient;
    const closers: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const { loadCertificateSource } = await import('../../src/certificates/index.js');
      const { createTokenSource, TokenCache } = await import('../../src/tokens/index.js');
      const { createGuard } = await import('../../src/resilience/index.js');
      const certDir = process.env.MONGODB_CERT_DIR;
      if (certDir === undefined) throw new Error('MONGODB_URI is set: MONGODB_CERT_DIR must name the workload certificate directory');
      const serviceId = process.env.MONGODB_SERVICE_ID;
      const certificates = await loadCertificateSource({ dir: certDir }, serviceId === undefined ? {} : { serviceId });
      const id = serviceId ?? certificates.current().spiffeId ?? 'spiffe://unknown/test';
      const auth = process.env.MONGODB_AUTH === 'oidc' ? 'oidc' : 'x509';
      const audience = process.env.MONGODB_AUDIENCE ?? 'mongodb';
      const tokenFile = process.env.MONGODB_TOKEN_FILE;
      const source = createTokenSource(
        tokenFile !== undefined ? { files: { [audience]: tokenFile } } : { issuer: process.env.MONGODB_TOKEN_ISSUER ?? 'https://issuer.invalid', clientAuth: { method: 'tls_client_auth' } },
        certificates,
        { serviceId: id },
      );
      const tokens = new TokenCache(source, { certificates });
      const guard = createGuard({ serviceId: id });
      closers.push(() => guard.close(), () => tokens.close(), () => certificates.close());
      mongo = await createMongoClient({ serviceId: id, certificates, tokens, guard }, { uri: realUri, auth, ...(auth === 'oidc' ? { audience } : {}) });
    });

    afterAll(async () => {
      await mongo.close();
      for (const close of closers) await close();
    });

    defineCrudSuite(() => mongo, process.env.MONGODB_DB ?? 'secure_nosql_test');
  });
}
