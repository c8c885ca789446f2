/**
 * The whole loopback stack the benchmark and the soak run against, built once:
 * test PKI, MockTokenIssuer (token + STS), the document API (mTLS + JWKS
 * bearer check + revocation check), the MongoDB wire server (OIDC checked
 * against the issuer), the SigV4 DynamoDB gateway in front of dynalite, and
 * ONE secure client factory with its three guarded clients.
 *
 * Everything binds to 127.0.0.1; `close()` stops all of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { TracerProvider } from '@opentelemetry/api';
import { decodeJwt } from 'jose';
import type { AuditSink } from '../../src/audit/types.js';
import { createSecureClientFactory, type SecureClientFactory } from '../../src/factory.js';
import type { SecureHttpClient } from '../../src/drivers/http/index.js';
import type { SecureMongoClient } from '../../src/drivers/mongodb/index.js';
import type { BreakerRegistryOptions } from '../../src/resilience/index.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import type { StsSession } from '../../src/testing/issuer/types.js';
import { createTestPki, type TestPki } from '../../src/testing/pki/index.js';
import { createJwksVerifier, DocApiServer, type JwksVerifier } from '../../test/fixtures/doc-api-server.js';
import { startDynamoGateway, type DynamoGateway } from '../../test/fixtures/dynamo-gateway.js';
import { startMongoWireServer, type MongoWireServer } from '../../test/fixtures/mongo-wire-server.js';

export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';
export const DOCS_ID = 'spiffe://example.test/ns/docs/sa/docs-api';
export const ROLE_ARN = 'arn:aws:iam::123456789012:role/orders-rw';
export const REGION = 'eu-west-1';
export const AUD_DOCS = 'docs-api';
export const AUD_MONGO = 'orders-db';
export const AUD_STS = 'sts.amazonaws.com';
export const DOC_PATH = '/v1/docs/42';

/** Options of {@link startStack}. */
export interface StackOptions {
  readonly tokenTtlSeconds?: number;
  readonly audit?: AuditSink;
  readonly tracerProvider?: TracerProvider;
  readonly breaker?: BreakerRegistryOptions;
  readonly retry?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number; readonly maxAttempts?: number };
  readonly tokenCache?: { readonly refreshAt?: number };
}

/** The running stack. */
export interface Stack {
  readonly dir: string;
  readonly pki: TestPki;
  readonly issuer: MockTokenIssuer;
  readonly api: DocApiServer;
  readonly wire: MongoWireServer;
  readonly gateway: DynamoGateway;
  readonly secure: SecureClientFactory;
  readonly http: SecureHttpClient;
  readonly mongo: SecureMongoClient;
  readonly ddb: DynamoDBClient;
  readonly mongoUri: string;
  /** Every bearer/OIDC token value a store received (canaries for the soak). */
  readonly tokensSeen: Set<string>;
  /** Every STS session the gateway looked up (its secrets are canaries too). */
  readonly sessionsSeen: Map<string, StsSession>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ttl = options.tokenTtlSeconds ?? 300;
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-bench-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
  const issuer = new MockTokenIssuer({
    pki,
    clients: [{ id: SERVICE_ID, audiences: [AUD_DOCS, AUD_MONGO, AUD_STS], roles: [ROLE_ARN], tokenTtlSeconds: ttl }],
  });
  await issuer.start();
  const tokensSeen = new Set<string>();
  const sessionsSeen = new Map<string, StsSession>();

  // Document API: JWKS verification like a real resource server, plus the issuer's revocation list.
  const docsCert = await pki.issueServer({ spiffeId: DOCS_ID });
  const verifier: JwksVerifier = createJwksVerifier({ jwksUrl: issuer.jwksUrl, audience: AUD_DOCS, ca: pki.caCertPem });
  const api = await new DocApiServer({
    cert: docsCert.certificatePem,
    key: docsCert.privateKeyPem,
    ca: pki.caCertPem,
    verifyToken: async (token) => {
      tokensSeen.add(token);
      const claims = await verifier.verify(token);
      const jti = decodeJwt(token).jti;
      if (jti !== undefined && issuer.isRevoked(jti)) throw new Error('token revoked');
      return claims;
    },
  }).start();

  const wireCert = await pki.issueServer();
  const wire = await startMongoWireServer({
    cert: wireCert.certificatePem,
    key: wireCert.privateKeyPem,
    ca: pki.caCertPem,
    verifyToken: async (jwt) => {
      tokensSeen.add(jwt);
      const v = await issuer.verifyAccessToken(jwt, { audience: AUD_MONGO });
      return { subject: v.subject, expiresAt: v.expiresAt, jti: v.jti };
    },
    grants: { [SERVICE_ID]: [{ db: 'orders', actions: ['read', 'write'] }] },
  });

  const gwCert = await pki.issueServer();
  const gateway = await startDynamoGateway({
    region: REGION,
    lookupSession: (accessKeyId) => {
      const s = issuer.sessionFor(accessKeyId);
      if (s !== undefined) sessionsSeen.set(accessKeyId, s);
      return s;
    },
    permissions: { [ROLE_ARN]: [{ actions: ['GetItem', 'PutItem'], tables: ['orders'] }] },
    tls: { key: gwCert.privateKeyPem, cert: gwCert.certificatePem, ca: pki.caCertPem },
  });
  const setup = new DynamoDBClient({ region: REGION, endpoint: gateway.dynaliteUrl, credentials: { accessKeyId: 'setup', secretAccessKey: 'setup' } });
  try {
    await setup.send(
      new CreateTableCommand({
        TableName: 'orders',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await setup.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'o-1' }, sku: { S: 'a1' }, qty: { N: '2' } } }));
  } finally {
    setup.destroy();
  }

  const secure = await createSecureClientFactory({
    identity: { serviceId: SERVICE_ID, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
    policy: {
      version: 1,
      services: [
        {
          id: SERVICE_ID,
          rules: [
            { id: 'docs-rw', resources: [`http:${api.origin}/v1/docs/*`], actions: ['read', 'write'] },
            { id: 'orders-db-rw', resources: ['mongodb:orders/*'], actions: ['read', 'write'] },
            { id: 'orders-table-rw', resources: ['dynamodb:orders'], actions: ['read', 'write'] },
          ],
        },
      ],
    },
    ...(options.audit === undefined ? {} : { audit: options.audit }),
    ...(options.tracerProvider === undefined ? {} : { telemetry: { tracerProvider: options.tracerProvider } }),
    ...(options.tokenCache === undefined ? {} : { tokenCache: options.tokenCache }),
    resilience: {
      ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
    },
  });
  const http = secure.http({ origin: api.origin, audience: AUD_DOCS, serverId: DOCS_ID });
  const mongoUri = `mongodb://127.0.0.1:${wire.port}/orders?directConnection=true&serverSelectionTimeoutMS=5000`;
  const mongo = await secure.mongodb({ uri: mongoUri, audience: AUD_MONGO });
  const ddb = await secure.dynamodb({ region: REGION, roleArn: ROLE_ARN, stsEndpoint: issuer.stsUrl, endpoint: gateway.url });

  // Seed: one document per store, written through the guarded clients.
  const put = await http.request({ method: 'PUT', path: DOC_PATH, body: JSON.stringify({ sku: 'a1', qty: 2 }), route: '/v1/docs/:id' });
  await put.body.dump();
  await mongo.collection('orders', 'items').insertOne({ _id: 1 as never, sku: 'a1', qty: 2 });

  return {
    dir,
    pki,
    issuer,
    api,
    wire,
    gateway,
    secure,
    http,
    mongo,
    ddb,
    mongoUri,
    tokensSeen,
    sessionsSeen,
    async close() {
      await secure.close();
      await api.close();
      await verifier.close();
      await wire.close();
      await gateway.close();
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
