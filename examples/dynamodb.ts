/**
 * DynamoDB as a workload identity, end to end on one machine:
 *
 *   test PKI ─▶ workload certificate dir ─▶ mTLS token request ─▶ web-identity token
 *   ─▶ STS AssumeRoleWithWebIdentity ─▶ SigV4-signed DynamoDB calls over mTLS
 *   ─▶ SigV4-verifying gateway ─▶ dynalite
 *
 * Run: `npx tsx examples/dynamodb.ts`. Everything binds to 127.0.0.1 and is
 * removed at the end. In production only the `createSecureClientFactory`
 * and `secure.dynamodb(...)` parts remain (with the regional STS endpoint and
 * AWS's DynamoDB endpoint as defaults).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { MemoryAuditSink } from '../src/audit/index.js';
import { isSecureNosqlError } from '../src/errors/index.js';
import { createSecureClientFactory } from '../src/factory.js';
import { MockTokenIssuer } from '../src/testing/issuer/index.js';
import { createTestPki } from '../src/testing/pki/index.js';
import { startDynamoGateway } from '../test/fixtures/dynamo-gateway.js';

const serviceId = 'spiffe://example.test/ns/orders/sa/orders-api';
const roleArn = 'arn:aws:iam::123456789012:role/orders-rw';
const region = 'eu-west-1';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-example-'));
  const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId });
  const issuer = new MockTokenIssuer({ pki, clients: [{ id: serviceId, audiences: ['sts.amazonaws.com'], roles: [roleArn] }] });
  await issuer.start();
  const gatewayCert = await pki.issueServer();
  const gateway = await startDynamoGateway({
    region,
    lookupSession: (accessKeyId) => issuer.sessionFor(accessKeyId),
    permissions: { [roleArn]: [{ actions: ['GetItem', 'PutItem', 'Query'], tables: ['orders'] }] },
    tls: { key: gatewayCert.privateKeyPem, cert: gatewayCert.certificatePem, ca: pki.caCertPem },
  });
  // Table setup goes straight to dynalite; it is not part of what the example shows.
  const setup = new DynamoDBClient({ region, endpoint: gateway.dynaliteUrl, credentials: { accessKeyId: 'setup', secretAccessKey: 'setup' } });
  await setup.send(
    new CreateTableCommand({
      TableName: 'orders',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  setup.destroy();

  const audit = new MemoryAuditSink();
  const secure = await createSecureClientFactory({
    identity: { serviceId, certificates: { dir: pki.identityDir }, tokens: { issuer: issuer.url, clientAuth: { method: 'tls_client_auth' } } },
    policy: { version: 1, services: [{ id: serviceId, rules: [{ id: 'orders-rw', resources: ['dynamodb:orders', 'dynamodb:orders/index/*'], actions: ['read', 'write'] }] }] },
    audit,
  });
  try {
    // A real DynamoDBClient: credentials from STS with the workload's web-identity token,
    // the current workload certificate on every new connection, policy + retries as middleware.
    const ddb = await secure.dynamodb({ region, roleArn, stsEndpoint: issuer.stsUrl, endpoint: gateway.url });
    const docs = DynamoDBDocumentClient.from(ddb);

    await docs.send(new PutCommand({ TableName: 'orders', Item: { id: 'o-1', sku: 'a1', quantity: 2 } }));
    const { Item } = await docs.send(new GetCommand({ TableName: 'orders', Key: { id: 'o-1' } }));
    console.log('read back:', Item);

    try {
      await docs.send(new GetCommand({ TableName: 'payroll', Key: { id: 'x' } }));
    } catch (error) {
      if (!isSecureNosqlError(error)) throw error;
      console.log(`denied before sending: ${error.code} — ${error.message}`);
      console.log('what an external caller sees:', error.toPublic());
    }

    console.log(`STS calls: ${issuer.requestCount('sts')}, requests at the gateway: ${gateway.requestCount()}`);
    for (const r of audit.records) console.log(`audit ${r.kind.padEnd(8)} ${r.operation.padEnd(8)} ${r.resource.padEnd(18)} ${r.decision} ${r.outcome ?? ''}`);
  } finally {
    await secure.close();
    await gateway.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
