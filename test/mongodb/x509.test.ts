import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadCertificateSource } from '../../src/certificates/index.js';
import { createMongoClient, type SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import { hasErrorCode } from '../../src/errors/index.js';
import { createMongoHarness, fixtureUri, SERVICE_ID, type MongoHarness } from './harness.js';

describe('MongoDB adapter: MONGODB-X509 with the workload certificate', () => {
  let h: MongoHarness;
  let mongo: SecureMongoClient;

  beforeAll(async () => {
    h = await createMongoHarness({ grants: { [SERVICE_ID]: [{ db: 'orders', actions: ['read', 'write', 'admin'] }] } });
    mongo = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), auth: 'x509' });
  });

  afterAll(async () => {
    await mongo.close();
    await h.close();
  });

  test('authenticates as the certificate SPIFFE ID, without any token', async () => {
    const c = mongo.collection('orders', 'x509');
    await c.insertOne({ sku: 'x' });
    expect(await c.findOne({}, { projection: { _id: 0 } })).toEqual({ sku: 'x' });
    const commands = h.server.commandLog().filter((e) => e.collection === 'x509');
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.every((e) => e.principal === SERVICE_ID)).toBe(true);
    expect(h.issuer.requestCount('token')).toBe(0);
    expect(h.server.saslStartCount).toBe(0);
  });

  test('x509 is the default without an audience', async () => {
    const other = await createMongoClient(h.ctx, { uri: fixtureUri(h.server) });
    try {
      expect(await other.collection('orders', 'x509').countDocuments({})).toBe(1);
      expect(h.issuer.requestCount('token')).toBe(0);
    } finally {
      await other.close();
    }
  });

  test('a certificate the server does not know is AUTH_REJECTED at connect; a missing grant is ACCESS_DENIED', async () => {
    const stranger = await h.pki.issue({ spiffeId: 'spiffe://example.test/ns/other/sa/stranger' });
    const dir = join(h.dir, 'stranger');
    await h.pki.write(stranger, { dir });
    const certificates = await loadCertificateSource({ dir }, { recheckIntervalMs: 0 });
    try {
      const error = await createMongoClient({ ...h.ctx, certificates }, { uri: fixtureUri(h.server), auth: 'x509' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasErrorCode(error, 'AUTH_REJECTED'), String(error)).toBe(true);
    } finally {
      await certificates.close();
    }
    const denied = await mongo.collection('billing', 'x').findOne({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasErrorCode(denied, 'ACCESS_DENIED')).toBe(true);
  });
});

describe('MongoDB adapter: server verification', () => {
  test('a server that is not the configured SPIFFE ID fails with CERT_IDENTITY_MISMATCH, and a pin mismatch with TLS_PIN_MISMATCH, not a generic timeout', async () => {
    const h = await createMongoHarness();
    try {
      const error = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), auth: 'x509', verification: { serverId: 'spiffe://example.test/ns/db/sa/mongo' }, driverOptions: { serverSelectionTimeoutMS: 500 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasErrorCode(error, 'CERT_IDENTITY_MISMATCH'), String(error)).toBe(true);
      const pinned = await createMongoClient(h.ctx, { uri: fixtureUri(h.server), auth: 'x509', verification: { pins: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='] }, driverOptions: { serverSelectionTimeoutMS: 500 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasErrorCode(pinned, 'TLS_PIN_MISMATCH'), String(pinned)).toBe(true);
    } finally {
      await h.close();
    }
  });
});
