import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { describe, expect, test } from 'vitest';
import { accessesFor, pipelineAccesses } from '../../src/drivers/mongodb/actions.js';
import { createMongoClassifier } from '../../src/drivers/mongodb/classify.js';
import { createMongoClientWith } from '../../src/drivers/mongodb/client.js';
import { loadMongoDriver } from '../../src/drivers/mongodb/load-driver.js';
import { checkDriverOptions, defaultAllowedHosts, parseMongoUri } from '../../src/drivers/mongodb/options.js';
import type { DriverContext } from '../../src/drivers/types.js';
import { hasErrorCode, isSecureNosqlError } from '../../src/errors/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isSecureNosqlError(error) ? error.code : `not a SecureNosqlError: ${String(error)}`;
  }
  return undefined;
}

describe('loadMongoDriver', () => {
  test('a missing mongodb package is DEPENDENCY_MISSING naming the install command', async () => {
    const missing = Object.assign(new Error("Cannot find package 'mongodb'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const error = await loadMongoDriver(() => Promise.reject(missing)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasErrorCode(error, 'DEPENDENCY_MISSING')).toBe(true);
    expect((error as Error).message).toContain('npm install mongodb');
    expect((error as { details: Record<string, unknown> }).details).toEqual({ package: 'mongodb' });
  });

  test('a package without MongoClient is DEPENDENCY_MISSING too', async () => {
    const error = await loadMongoDriver(() => Promise.resolve({})).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasErrorCode(error, 'DEPENDENCY_MISSING')).toBe(true);
  });

  test('the installed driver loads', async () => {
    expect(typeof (await loadMongoDriver()).MongoClient).toBe('function');
  });

  test('createMongoClient reports DEPENDENCY_MISSING before connecting anywhere', async () => {
    const ctx = {
      serviceId: 'spiffe://example.test/a',
      certificates: { current: () => ({ secureContext: undefined }), on: () => ({ dispose: () => undefined }), close: async () => undefined },
      tokens: { getToken: () => Promise.reject(new Error('unused')), invalidate: () => false },
      guard: { run: () => Promise.reject(new Error('unused')) },
    } as unknown as DriverContext;
    const missing = Object.assign(new Error('nope'), { code: 'ERR_MODULE_NOT_FOUND' });
    const error = await createMongoClientWith(ctx, { uri: 'mongodb://db.internal:27017', audience: 'db' }, { importer: () => Promise.reject(missing) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasErrorCode(error, 'DEPENDENCY_MISSING')).toBe(true);
  });
});

describe('connection string and options checks', () => {
  test('parses hosts, ports, database and a credential-free target', () => {
    expect(parseMongoUri('mongodb://a.internal:27018,B.internal/orders?replicaSet=rs0')).toEqual({
      srv: false,
      hosts: [
        { host: 'a.internal', port: 27018 },
        { host: 'b.internal', port: 27017 },
      ],
      dbName: 'orders',
      target: 'mongodb://a.internal:27018,b.internal:27017',
    });
    expect(parseMongoUri('mongodb://[::1]:27017').target).toBe('mongodb://[::1]:27017');
    expect(defaultAllowedHosts(parseMongoUri('mongodb+srv://cluster0.abc.example.net/'))).toEqual(['cluster0.abc.example.net', '*.abc.example.net']);
  });

  test('refuses credentials in the uri without echoing them', () => {
    try {
      parseMongoUri('mongodb://admin:hunter2-canary@db:27017');
      expect.unreachable();
    } catch (error) {
      expect(hasErrorCode(error, 'CONFIG_INVALID')).toBe(true);
      expect(JSON.stringify(error)).not.toContain('hunter2-canary');
      expect((error as Error).message).not.toContain('hunter2-canary');
    }
  });

  test.each(['tlsInsecure=true', 'tlsAllowInvalidCertificates=true', 'tls=false', 'ssl=false', 'authMechanism=SCRAM-SHA-256', 'tlsCAFile=/x', 'proxyHost=p'])('refuses uri option %s', (option) => {
    expect(codeOf(() => parseMongoUri(`mongodb://db:27017/?${option}`))).toBe('CONFIG_INVALID');
  });

  test.each(['tlsAllowInvalidCertificates', 'tlsInsecure', 'tlsAllowInvalidHostnames', 'checkServerIdentity', 'secureContext', 'ca', 'cert', 'key', 'auth', 'authMechanism', 'proxyHost', 'rejectUnauthorized', 'somethingUnknown'])(
    'refuses driverOptions.%s',
    (key) => {
      expect(codeOf(() => checkDriverOptions({ [key]: true }))).toBe('CONFIG_INVALID');
    },
  );

  test('accepts the safe subset', () => {
    expect(checkDriverOptions({ maxPoolSize: 5, retryWrites: true, appName: 'orders', serverSelectionTimeoutMS: 1000 })).toEqual({
      maxPoolSize: 5,
      retryWrites: true,
      appName: 'orders',
      serverSelectionTimeoutMS: 1000,
    });
  });

  test.each(['', 'http://db:27017', 'mongodb://', 'mongodb://db:99999', 'mongodb+srv://a.b.c:27017'])('rejects uri %j', (uri) => {
    expect(codeOf(() => parseMongoUri(uri))).toBe('CONFIG_INVALID');
  });
});

describe('method → action table and pipeline walking', () => {
  test('methods map to read / write / admin on mongodb:<db>/<collection>; unknown methods get nothing (denied)', () => {
    expect(accessesFor('find', 'orders', 'items', [])).toEqual([{ resource: 'mongodb:orders/items', action: 'read' }]);
    expect(accessesFor('insertOne', 'orders', 'items', [])).toEqual([{ resource: 'mongodb:orders/items', action: 'write' }]);
    expect(accessesFor('bulkWrite', 'orders', 'items', [])).toEqual([{ resource: 'mongodb:orders/items', action: 'write' }]);
    expect(accessesFor('createIndex', 'orders', 'items', [])).toEqual([{ resource: 'mongodb:orders/items', action: 'admin' }]);
    expect(accessesFor('watch', 'orders', 'items', [])).toEqual([]);
    expect(accessesFor('toString', 'orders', 'items', [])).toEqual([]);
    expect(accessesFor('constructor', 'orders', 'items', [])).toEqual([]);
  });

  test('aggregation stages add their targets, nested pipelines included', () => {
    const out = accessesFor('aggregate', 'orders', 'items', [
      [
        { $lookup: { from: 'a', as: 'x', pipeline: [{ $unionWith: { coll: 'b', pipeline: [{ $graphLookup: { from: 'c' } }] } }] } },
        { $facet: { one: [{ $lookup: { from: 'd', as: 'y' } }], two: [{ $unionWith: 'e' }] } },
        { $merge: { into: { db: 'reports', coll: 'daily' } } },
      ],
    ]);
    expect(out).toEqual([
      { resource: 'mongodb:orders/items', action: 'read' },
      { resource: 'mongodb:orders/a', action: 'read' },
      { resource: 'mongodb:orders/b', action: 'read' },
      { resource: 'mongodb:orders/c', action: 'read' },
      { resource: 'mongodb:orders/d', action: 'read' },
      { resource: 'mongodb:orders/e', action: 'read' },
      { resource: 'mongodb:reports/daily', action: 'write' },
    ]);
    expect(accessesFor('aggregate', 'orders', 'items', [[{ $out: 'o' }]])).toContainEqual({ resource: 'mongodb:orders/o', action: 'write' });
    expect(accessesFor('aggregate', 'orders', 'items', [[{ $out: { db: 'x', coll: 'y' } }]])).toContainEqual({ resource: 'mongodb:x/y', action: 'write' });
    expect(accessesFor('aggregate', 'orders', 'items', [[{ $merge: 'm' }]])).toContainEqual({ resource: 'mongodb:orders/m', action: 'write' });
  });

  test('an unreadable stage makes the whole operation unknown (denied), never silently allowed', () => {
    expect(accessesFor('aggregate', 'orders', 'items', [[{ $out: 42 }]])).toEqual([]);
    expect(accessesFor('aggregate', 'orders', 'items', [[{ $lookup: { from: { nope: 1 } } }]])).toEqual([]);
    expect(accessesFor('aggregate', 'orders', 'items', ['not a pipeline'])).toEqual([]);
    expect(pipelineAccesses([null], 'orders', [])).toBe(false);
  });
});

describe('error classification', () => {
  const server = (code: number, labels: string[] = []) => {
    const e = new MongoServerError({ ok: 0, code, errmsg: `code ${code}` });
    for (const l of labels) e.addErrorLabel(l);
    return e;
  };

  test('maps 13, 18, 391, network, selection, retryable labels and others (no observer)', () => {
    const classify = createMongoClassifier(undefined);
    expect(classify(server(13))).toEqual({ class: 'access_denied', reason: 'mongo_13' });
    expect(classify(server(18)).class).toBe('auth_rejected');
    expect(classify(server(391)).class).toBe('stale_credential');
    expect(classify(new MongoNetworkError('reset'))).toEqual({ class: 'transient', reason: 'mongo_network', ambiguous: true });
    expect(classify(new MongoServerSelectionError('no server', { type: 'Unknown', servers: new Map(), stale: false, compatible: true, heartbeatFrequencyMS: 1, localThresholdMS: 1, setName: null, maxElectionId: null, maxSetVersion: null, commonWireVersion: 0, logicalSessionTimeoutMinutes: null } as never)).reason).toBe('mongo_server_selection');
    expect(classify(server(8, ['RetryableWriteError']))).toMatchObject({ class: 'transient', ambiguous: true });
    expect(classify(server(11600)).class).toBe('transient');
    expect(classify(server(2))).toEqual({ class: 'permanent', reason: 'mongo_2' });
    expect(classify(new Error('x')).class).toBe('permanent');
    expect(classify(undefined).class).toBe('permanent');
  });

  test('18 is stale (one refresh) for a cached token and final for a freshly fetched one', () => {
    let fresh = false;
    const classify = createMongoClassifier({ credentialRejected: () => fresh });
    expect(classify(server(18)).class).toBe('stale_credential');
    fresh = true;
    expect(classify(server(18)).class).toBe('auth_rejected');
  });
});
