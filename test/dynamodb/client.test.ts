import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  ExecuteTransactionCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand as DocQueryCommand } from '@aws-sdk/lib-dynamodb';
import { isSecureNosqlError, type SecureNosqlError } from '../../src/errors/index.js';
import { createDynamoDbClient, GUARD_MIDDLEWARE_NAME, type SecureDynamoDbOptions } from '../../src/drivers/dynamodb/index.js';
import { REGION, ROLE_ARN, startDynamoHarness, type DynamoHarness } from '../fixtures/dynamo/harness.js';

/** Every value that must never show up in an error, audit record or inspect output. */
const secrets = new Set<string>();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function secureError(p: Promise<unknown>): Promise<SecureNosqlError> {
  const error = await rejection(p);
  if (!isSecureNosqlError(error)) throw new Error(`expected a SecureNosqlError, got ${inspect(error)}`);
  caught.push(error);
  return error;
}

const caught: unknown[] = [];
const key = (pk: string, sk = '1'): Record<string, { S: string }> => ({ pk: { S: pk }, sk: { S: sk } });

describe('secure DynamoDB client against the SigV4 gateway and dynalite', () => {
  let h: DynamoHarness;
  let base: SecureDynamoDbOptions;
  let client: DynamoDBClient;

  beforeAll(async () => {
    h = await startDynamoHarness();
    base = { region: REGION, roleArn: ROLE_ARN, stsEndpoint: h.issuer.stsUrl, endpoint: h.gateway.url, allowInsecureLoopback: true };
    client = await createDynamoDbClient(h.ctx, base);
  });

  afterAll(async () => {
    client.destroy();
    await h.close();
  });

  function rememberSessionSecrets(): void {
    for (const id of h.gateway.accessKeysSeen) {
      const s = h.issuer.sessionFor(id);
      if (s !== undefined) {
        secrets.add(s.secretAccessKey);
        secrets.add(s.sessionToken);
      }
    }
  }

  it('is a real DynamoDBClient with the guard as named middleware (not a send() wrapper)', () => {
    expect(client).toBeInstanceOf(DynamoDBClient);
    expect(Object.hasOwn(client, 'send')).toBe(false); // send() is the SDK's own, not a wrapper
    expect(client.middlewareStack.identify().some((m) => m.startsWith(GUARD_MIDDLEWARE_NAME))).toBe(true);
  });

  it('puts, gets, queries an index and writes a transaction end to end', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { ...key('o-1'), customer: { S: 'c-1' }, total: { N: '10' } } }));
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { ...key('o-2'), customer: { S: 'c-1' }, total: { N: '20' } } }));
    const got = await client.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
    expect(got.Item?.total?.N).toBe('10');
    const q = await client.send(
      new QueryCommand({ TableName: 'orders', IndexName: 'byCustomer', KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': { S: 'c-1' } } }),
    );
    expect(q.Items?.map((i) => i.pk?.S).sort()).toEqual(['o-1', 'o-2']);
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: 'orders', Item: { ...key('o-3'), customer: { S: 'c-2' } } } },
          { Put: { TableName: 'customers', Item: { pk: { S: 'c-2' } } } },
          { ConditionCheck: { TableName: 'orders', Key: key('o-1'), ConditionExpression: 'attribute_exists(pk)' } },
        ],
      }),
    );
    expect((await client.send(new GetItemCommand({ TableName: 'customers', Key: { pk: { S: 'c-2' } } }))).Item?.pk?.S).toBe('c-2');
    const outcomes = h.audit.records.filter((r) => r.kind === 'outcome' && r.operation === 'TransactWriteItems');
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'ok', decision: 'allow', resources: ['dynamodb:orders', 'dynamodb:customers'] });
    rememberSessionSecrets();
  });

  it('works under a DynamoDBDocumentClient, policy included', async () => {
    const docs = DynamoDBDocumentClient.from(client);
    await docs.send(new PutCommand({ TableName: 'orders', Item: { pk: 'd-1', sk: '1', customer: 'c-9', tags: ['a', 'b'] } }));
    const got = await docs.send(new GetCommand({ TableName: 'orders', Key: { pk: 'd-1', sk: '1' } }));
    expect(got.Item).toEqual({ pk: 'd-1', sk: '1', customer: 'c-9', tags: ['a', 'b'] });
    const q = await docs.send(new DocQueryCommand({ TableName: 'orders', IndexName: 'byCustomer', KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': 'c-9' } }));
    expect(q.Items).toHaveLength(1);
    const before = h.gateway.requestCount();
    const denied = await secureError(docs.send(new GetCommand({ TableName: 'secrets', Key: { pk: 'x' } })));
    expect(denied.code).toBe('POLICY_DENIED');
    expect(h.gateway.requestCount()).toBe(before);
  });

  it('makes exactly one STS call for 200 concurrent commands on cold credentials', async () => {
    const cold = await createDynamoDbClient(h.ctx, base);
    try {
      const stsBefore = h.issuer.requestCount('sts');
      const results = await Promise.all(Array.from({ length: 200 }, () => cold.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }))));
      expect(results.every((r) => r.Item?.pk?.S === 'o-1')).toBe(true);
      expect(h.issuer.requestCount('sts') - stsBefore).toBe(1);
    } finally {
      cold.destroy();
    }
  });

  it('survives a session expiring mid-run with one refresh and no failed command', async () => {
    const c = await createDynamoDbClient(h.ctx, base);
    try {
      await c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
      const firstKey = h.gateway.accessKeysSeen.at(-1)!;
      const stsBefore = h.issuer.requestCount('sts');
      const expiredBefore = h.gateway.rejectionCount('ExpiredTokenException');
      let failures = 0;
      const run = async (i: number): Promise<void> => {
        if (i === 10) h.issuer.expireSession(firstKey);
        try {
          await c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
        } catch {
          failures++;
        }
      };
      // 4 workers x 10 sequential commands; the session dies under them.
      await Promise.all(Array.from({ length: 4 }, (_, w) => (async () => {
        for (let i = 0; i < 10; i++) await run(w * 10 + i);
      })()));
      expect(failures).toBe(0);
      expect(h.gateway.rejectionCount('ExpiredTokenException') - expiredBefore).toBeGreaterThanOrEqual(1);
      expect(h.issuer.requestCount('sts') - stsBefore).toBe(1);
      expect(h.gateway.accessKeysSeen.at(-1)).not.toBe(firstKey);
      rememberSessionSecrets();
    } finally {
      c.destroy();
    }
  });

  it('refreshes once on UnrecognizedClientException, then AUTH_REJECTED when the new key is unknown too', async () => {
    const c = await createDynamoDbClient(h.ctx, base);
    try {
      await c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
      h.gateway.forgetSession(h.gateway.accessKeysSeen.at(-1)!);
      const sts0 = h.issuer.requestCount('sts');
      await c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
      expect(h.issuer.requestCount('sts') - sts0).toBe(1);

      h.gateway.forgetSession('*');
      const count0 = h.gateway.requestCount('GetItem');
      const error = await secureError(c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') })));
      expect(error.code).toBe('AUTH_REJECTED');
      expect(h.gateway.requestCount('GetItem') - count0).toBe(2); // the first attempt and the one after the refresh
      expect(h.issuer.requestCount('sts') - sts0).toBe(2);
      rememberSessionSecrets();
    } finally {
      h.gateway.rememberSessions();
      c.destroy();
    }
  });

  it('maps AccessDeniedException to ACCESS_DENIED without a retry, and audits it', async () => {
    // The policy allows writes on orders; the IAM role at the gateway lacks DeleteItem.
    const before = h.gateway.requestCount('DeleteItem');
    const error = await secureError(client.send(new DeleteItemCommand({ TableName: 'orders', Key: key('o-1') })));
    expect(error.code).toBe('ACCESS_DENIED');
    expect(h.gateway.requestCount('DeleteItem') - before).toBe(1);
    const record = h.audit.records.filter((r) => r.kind === 'outcome' && r.operation === 'DeleteItem').at(-1);
    expect(record).toMatchObject({ decision: 'allow', outcome: 'ACCESS_DENIED', attempts: 1, resource: 'dynamodb:orders', action: 'write', correlationId: error.correlationId });
  });

  it('denies by policy before anything is sent: table, transaction item, admin, PartiQL', async () => {
    const before = h.gateway.requestCount();
    const cases = [
      new GetItemCommand({ TableName: 'secrets', Key: { pk: { S: 'x' } } }),
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName: 'orders', Item: key('t-1') } }, { Put: { TableName: 'secrets', Item: { pk: { S: 't-1' } } } }],
      }),
      new DeleteTableCommand({ TableName: 'orders' }),
      new ExecuteStatementCommand({ Statement: 'SELECT * FROM "secrets" WHERE pk = ?', Parameters: [{ S: 'x' }] }),
      new ExecuteStatementCommand({ Statement: 'DELETE FROM secrets WHERE pk = ?', Parameters: [{ S: 'x' }] }),
      new ExecuteStatementCommand({ Statement: 'SELECT * FROM orders, secrets' }),
      new ExecuteStatementCommand({ Statement: 'SELECT * FROM "orders" WHERE pk IN (SELECT pk FROM "secrets")' }),
      new ExecuteStatementCommand({ Statement: 'EXPLAIN SELECT * FROM orders' }),
      new ExecuteTransactionCommand({ TransactStatements: [{ Statement: 'UPDATE "orders" SET a = 1 WHERE pk = ?' }, { Statement: 'INSERT INTO "secrets" VALUE {\'pk\': \'x\'}' }] }),
    ];
    for (const command of cases) {
      const error = await secureError(client.send(command as Parameters<DynamoDBClient['send']>[0]));
      expect(error.code, command.constructor.name).toBe('POLICY_DENIED');
    }
    expect(h.gateway.requestCount()).toBe(before);
    const denies = h.audit.records.filter((r) => r.kind === 'decision' && r.decision === 'deny');
    expect(denies.length).toBeGreaterThanOrEqual(cases.length);
    expect(denies.some((r) => r.operation === 'ExecuteStatement' && r.resource === 'unknown')).toBe(true);
  });

  it('lets an allowed PartiQL statement through to the store', async () => {
    const before = h.gateway.requestCount('ExecuteStatement');
    // dynalite 4 does not implement PartiQL: the statement passes policy and IAM, then the backend answers UnknownOperation.
    const error = await rejection(client.send(new ExecuteStatementCommand({ Statement: 'SELECT * FROM "orders"."byCustomer" WHERE customer = ?', Parameters: [{ S: 'c-1' }] })));
    expect(h.gateway.requestCount('ExecuteStatement') - before).toBe(1);
    expect(h.gateway.forwardedCount('ExecuteStatement')).toBeGreaterThanOrEqual(1);
    expect((error as Error).name).toBe('UnknownOperationException');
  });

  it('denies ListTables unless the policy grants read on every table (dynamodb:*)', async () => {
    const before = h.gateway.requestCount();
    const error = await secureError(client.send(new ListTablesCommand({})));
    expect(error.code).toBe('POLICY_DENIED');
    expect(error.details).toMatchObject({ resource: 'dynamodb:*', action: 'read' });
    expect(h.gateway.requestCount()).toBe(before);
  });

  it('retries throttling and 5xx in the guard with exact attempt counts (the SDK does not retry)', async () => {
    const before = h.gateway.requestCount('GetItem');
    const forwarded = h.gateway.forwardedCount('GetItem');
    h.gateway.failNext(1, { error: 'ThrottlingException' }, { action: 'GetItem' });
    h.gateway.failNext(1, { status: 503 }, { action: 'GetItem' });
    const r = await client.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
    expect(r.Item?.pk?.S).toBe('o-1');
    expect(h.gateway.requestCount('GetItem') - before).toBe(3);
    expect(h.gateway.forwardedCount('GetItem') - forwarded).toBe(1);

    h.gateway.failNext(5, { error: 'ProvisionedThroughputExceededException' }, { action: 'GetItem' });
    const mid = h.gateway.requestCount('GetItem');
    const error = await secureError(client.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') })));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(h.gateway.requestCount('GetItem') - mid).toBe(3); // guard retry.maxAttempts (default 3), not 3 x the SDK's 3
    const record = h.audit.records.filter((r) => r.kind === 'outcome' && r.operation === 'GetItem').at(-1);
    expect(record).toMatchObject({ outcome: 'UPSTREAM_UNAVAILABLE', attempts: 3 });
    h.gateway.clearFaults(); // two of the five are left over

    // A 500 may mean "applied": a non-idempotent UpdateItem is not replayed; an idempotent GetItem is.
    h.gateway.failNext(1, { status: 500 }, { action: 'UpdateItem' });
    const upd = h.gateway.requestCount('UpdateItem');
    const notReplayed = await secureError(
      client.send(new UpdateItemCommand({ TableName: 'orders', Key: key('o-1'), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } })),
    );
    expect(notReplayed.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(h.gateway.requestCount('UpdateItem') - upd).toBe(1);
    h.gateway.failNext(1, { status: 500 }, { action: 'GetItem' });
    const get = h.gateway.requestCount('GetItem');
    await client.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
    expect(h.gateway.requestCount('GetItem') - get).toBe(2);
  });

  it('passes modelled permanent errors through unchanged (ConditionalCheckFailedException), audited once', async () => {
    const before = h.gateway.requestCount('PutItem');
    const error = await rejection(
      client.send(new PutItemCommand({ TableName: 'orders', Item: key('o-1'), ConditionExpression: 'attribute_not_exists(pk)' })),
    );
    caught.push(error);
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect(h.gateway.requestCount('PutItem') - before).toBe(1);
    const record = h.audit.records.filter((r) => r.kind === 'outcome' && r.operation === 'PutItem').at(-1);
    expect(record).toMatchObject({ outcome: 'UPSTREAM_ERROR', attempts: 1 });
  });

  it('honours the caller AbortSignal', async () => {
    const before = h.gateway.requestCount();
    const error = await secureError(client.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }), { abortSignal: AbortSignal.abort() }));
    expect(error.code).toBe('ABORTED');
    expect(h.gateway.requestCount()).toBe(before);
  });

  it('maps STS AccessDenied to AUTH_REJECTED and InvalidIdentityToken to a retry with a fresh token', async () => {
    const c = await createDynamoDbClient(h.ctx, base);
    try {
      const sts0 = h.issuer.requestCount('sts');
      const tok0 = h.issuer.requestCount('token');
      h.issuer.failNext(1, { endpoint: 'sts', status: 400, error: 'InvalidIdentityToken' });
      await c.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') }));
      expect(h.issuer.requestCount('sts') - sts0).toBe(2);
      expect(h.issuer.requestCount('token') - tok0).toBe(1); // the retry used a freshly fetched web token
    } finally {
      c.destroy();
    }
    const d = await createDynamoDbClient(h.ctx, base);
    try {
      const sts0 = h.issuer.requestCount('sts');
      h.issuer.failNext(1, { endpoint: 'sts', status: 403, error: 'AccessDenied' });
      const error = await secureError(d.send(new GetItemCommand({ TableName: 'orders', Key: key('o-1') })));
      expect(error.code).toBe('AUTH_REJECTED');
      expect(error.details).toMatchObject({ stsCode: 'AccessDenied', attempts: 1 });
      expect(h.issuer.requestCount('sts') - sts0).toBe(1);
    } finally {
      d.destroy();
    }
  });

  it('never shows STS secrets or the web token in errors, audit records or inspect output', async () => {
    rememberSessionSecrets();
    secrets.add((await h.tokens.getToken('sts.amazonaws.com')).value);
    const provider = client.config.credentials as () => Promise<{ toString(): string }>;
    const creds = await provider();
    expect(Object.keys(creds)).not.toContain('secretAccessKey');
    const surfaces = [
      inspect(creds, { depth: 5, showHidden: false }),
      JSON.stringify(creds),
      String(creds),
      ...caught.flatMap((e) => [inspect(e, { depth: 5 }), JSON.stringify(e), (e as Error).message]),
      JSON.stringify(h.audit.records),
    ];
    expect(secrets.size).toBeGreaterThanOrEqual(5);
    for (const secret of secrets) {
      for (const text of surfaces) expect(text.includes(secret)).toBe(false);
    }
  });
});
