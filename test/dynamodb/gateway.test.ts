import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  DeleteItemCommand,
} from '@aws-sdk/client-dynamodb';
import { startDynamoGateway, type DynamoGateway, type GatewaySession } from '../fixtures/dynamo-gateway.js';

// The gateway itself, with static session credentials and the real SDK: it must reject what AWS would reject.
const ROLE = 'arn:aws:iam::123456789012:role/orders-rw';
const sessions = new Map<string, GatewaySession>([
  ['ASIAGOOD', { secretAccessKey: 'good-secret', sessionToken: 'good-token', roleArn: ROLE, expiresAt: Date.now() + 3_600_000 }],
  ['ASIAOLD', { secretAccessKey: 'old-secret', sessionToken: 'old-token', roleArn: ROLE, expiresAt: Date.now() - 1_000 }],
]);

function client(gw: DynamoGateway, accessKeyId: string, secretAccessKey: string, sessionToken: string): DynamoDBClient {
  return new DynamoDBClient({ region: 'us-east-1', endpoint: gw.url, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey, sessionToken } });
}

describe('dynamo gateway fixture', () => {
  let gw: DynamoGateway;
  let good: DynamoDBClient;
  beforeAll(async () => {
    gw = await startDynamoGateway({
      lookupSession: (id) => sessions.get(id),
      permissions: { [ROLE]: [{ actions: ['CreateTable', 'PutItem', 'GetItem', 'UpdateItem', 'ConditionCheckItem'], tables: ['orders'] }] },
    });
    good = client(gw, 'ASIAGOOD', 'good-secret', 'good-token');
    await good.send(new CreateTableCommand({
      TableName: 'orders',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  });
  afterAll(async () => {
    good.destroy();
    await gw.close();
  });

  it('verifies a correct signature and forwards to dynalite', async () => {
    await good.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'a' }, n: { N: '1' } } }));
    const r = await good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }));
    expect(r.Item?.n?.N).toBe('1');
    expect(gw.forwardedCount('PutItem')).toBeGreaterThanOrEqual(1);
  });

  it('rejects a wrong secret, an unknown key, an expired session and a wrong session token', async () => {
    const cases: [DynamoDBClient, string][] = [
      [client(gw, 'ASIAGOOD', 'bad-secret', 'good-token'), 'InvalidSignatureException'],
      [client(gw, 'ASIANOPE', 'x', 'y'), 'UnrecognizedClientException'],
      [client(gw, 'ASIAOLD', 'old-secret', 'old-token'), 'ExpiredTokenException'],
      [client(gw, 'ASIAGOOD', 'good-secret', 'other-token'), 'UnrecognizedClientException'],
    ];
    for (const [c, name] of cases) {
      await expect(c.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ name });
      c.destroy();
    }
  });

  it('denies actions and tables outside the role, checking every transaction item', async () => {
    await expect(good.send(new DeleteItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(good.send(new GetItemCommand({ TableName: 'invoices', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(good.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: 'orders', Item: { pk: { S: 't1' } } } },
      { Delete: { TableName: 'orders', Key: { pk: { S: 'a' } } } },
    ] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('emulates TransactWriteItems atomically (a failed condition rolls back)', async () => {
    await expect(good.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: 'orders', Item: { pk: { S: 't2' } } } },
      { ConditionCheck: { TableName: 'orders', Key: { pk: { S: 'missing' } }, ConditionExpression: 'attribute_exists(pk)' } },
    ] }))).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect((await good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 't2' } } }))).Item).toBeUndefined();
    await good.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: 'orders', Item: { pk: { S: 't3' } } } },
      { Update: { TableName: 'orders', Key: { pk: { S: 'a' } }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '2' } } } },
    ] }));
    expect((await good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 't3' } } }))).Item?.pk?.S).toBe('t3');
    expect((await good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).Item?.n?.N).toBe('2');
  });

  it('injects throttling and server faults after authentication', async () => {
    gw.failNext(1, { error: 'ThrottlingException' });
    gw.failNext(1, { status: 503 });
    await expect(good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    gw.expireSession('ASIAGOOD');
    await expect(good.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({ name: 'ExpiredTokenException' });
  });
});
