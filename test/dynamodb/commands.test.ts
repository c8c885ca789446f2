import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LocalDecisionPoint } from '../../src/policy/index.js';
import { classifyDynamoDbError, describeDynamoDbCommand, parsePartiqlStatement } from '../../src/drivers/dynamodb/index.js';
import { SessionCredentials } from '../../src/drivers/dynamodb/session-credentials.js';
import { element, leafText, rootElement } from '../../src/drivers/dynamodb/sts-xml.js';

const SERVICE = 'spiffe://example.test/ns/orders/sa/orders-api';

describe('DynamoDB command → policy accesses', () => {
  it.each([
    ['GetItem', { TableName: 'orders' }, [['dynamodb:orders', 'read']], true],
    ['Query', { TableName: 'orders', IndexName: 'byCustomer' }, [['dynamodb:orders/index/byCustomer', 'read']], true],
    ['Scan', { TableName: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders' }, [['dynamodb:orders', 'read']], true],
    ['PutItem', { TableName: 'orders' }, [['dynamodb:orders', 'write']], true],
    ['PutItem', { TableName: 'orders', ConditionExpression: 'attribute_not_exists(pk)' }, [['dynamodb:orders', 'write']], false],
    ['UpdateItem', { TableName: 'orders' }, [['dynamodb:orders', 'write']], false],
    ['DeleteItem', { TableName: 'orders' }, [['dynamodb:orders', 'write']], true],
    ['BatchGetItem', { RequestItems: { orders: {}, customers: {} } }, [['dynamodb:orders', 'read'], ['dynamodb:customers', 'read']], true],
    ['BatchWriteItem', { RequestItems: { orders: [] } }, [['dynamodb:orders', 'write']], true],
    [
      'TransactWriteItems',
      { TransactItems: [{ Put: { TableName: 'orders' } }, { ConditionCheck: { TableName: 'customers' } }, { Delete: { TableName: 'orders' } }] },
      [['dynamodb:orders', 'write'], ['dynamodb:customers', 'read']],
      true,
    ],
    ['TransactGetItems', { TransactItems: [{ Get: { TableName: 'orders' } }, { Get: { TableName: 'audit' } }] }, [['dynamodb:orders', 'read'], ['dynamodb:audit', 'read']], true],
    ['CreateTable', { TableName: 'orders' }, [['dynamodb:orders', 'admin']], false],
    ['UpdateTimeToLive', { TableName: 'orders' }, [['dynamodb:orders', 'admin']], false],
    ['DescribeTable', { TableName: 'orders' }, [['dynamodb:orders', 'read']], true],
    ['ListTables', {}, [['dynamodb:*', 'read']], true],
    ['TagResource', { ResourceArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders' }, [['dynamodb:orders', 'admin']], false],
    ['DeleteBackup', { BackupArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders/backup/01234' }, [['dynamodb:orders', 'admin']], false],
    ['RestoreTableToPointInTime', { SourceTableName: 'orders', TargetTableName: 'orders-copy' }, [['dynamodb:orders-copy', 'admin'], ['dynamodb:orders', 'read']], false],
    ['ExecuteStatement', { Statement: 'SELECT * FROM "orders"."byCustomer" WHERE customer = ?' }, [['dynamodb:orders/index/byCustomer', 'read']], true],
    ['ExecuteStatement', { Statement: "insert into orders value {'pk': 'a'}" }, [['dynamodb:orders', 'write']], false],
    ['ExecuteTransaction', { TransactStatements: [{ Statement: 'UPDATE "orders" SET a = 1 WHERE pk = ?' }, { Statement: 'EXISTS(SELECT * FROM "customers" WHERE pk = ?)' }] }, [['dynamodb:orders', 'write'], ['dynamodb:customers', 'read']], true],
  ] as const)('%s %j', (operation, input, accesses, idempotent) => {
    const d = describeDynamoDbCommand(operation, input);
    expect(d.accesses.map((a) => [a.resource, a.action])).toEqual(accesses);
    expect(d.idempotent).toBe(idempotent);
  });

  it.each([
    ['UnknownNewCommand', { TableName: 'orders' }],
    ['SearchVectors', { TableName: 'orders' }],
    ['GetItem', {}],
    ['GetItem', { TableName: 'orders/../secrets' }],
    ['Query', { TableName: 'orders', IndexName: '' }],
    ['BatchGetItem', { RequestItems: {} }],
    ['TransactWriteItems', { TransactItems: [{ Put: { TableName: 'orders' }, Delete: { TableName: 'secrets' } }] }],
    ['TransactWriteItems', { TransactItems: [{ Put: { TableName: 'orders' } }, { Put: {} }] }],
    ['ExecuteStatement', { Statement: 'SELECT * FROM orders, secrets' }],
    ['ExecuteStatement', { Statement: 'SELECT * FROM orders -- comment' }],
    ['ExecuteStatement', { Statement: 'SELECT * FROM "orders" WHERE pk IN (SELECT pk FROM "secrets")' }],
    ['ExecuteStatement', { Statement: 'UPDATE "orders"."idx" SET a = 1' }],
    ['ExecuteStatement', { Statement: 'SELECT * FROM "or""ders"' }],
    ['ExecuteStatement', { Statement: 42 }],
    ['BatchExecuteStatement', { Statements: [{ Statement: 'SELECT * FROM orders' }, { Statement: 'DROP TABLE orders' }] }],
  ])('denies %s %j (no accesses)', (operation, input) => {
    expect(describeDynamoDbCommand(operation, input).accesses).toEqual([]);
  });

  it('reads PartiQL statements with quoted and bare names, strings and keywords in odd places', () => {
    expect(parsePartiqlStatement(`SELECT "from", 'FROM secrets' FROM "orders" WHERE pk = 'x'`)).toEqual({ action: 'read', table: 'orders' });
    expect(parsePartiqlStatement('delete FROM "my-table.v2" WHERE pk = ?')).toEqual({ action: 'write', table: 'my-table.v2' });
    expect(parsePartiqlStatement('UPDATE orders REMOVE a WHERE pk = ?')).toEqual({ action: 'write', table: 'orders' });
    expect(parsePartiqlStatement("SELECT * FROM 'orders'")).toBeUndefined();
  });

  it('ListTables needs read on every table: a per-table rule does not grant it', () => {
    const list = describeDynamoDbCommand('ListTables', {});
    const decide = (resources: string[]): boolean =>
      (new LocalDecisionPoint({ version: 1, services: [{ id: SERVICE, rules: [{ id: 'r', resources, actions: ['read'] }] }] }).decide({
        subject: SERVICE,
        accesses: list.accesses,
        operation: 'ListTables',
        system: 'dynamodb',
      }) as { allowed: boolean }).allowed;
    expect(decide(['dynamodb:orders'])).toBe(false);
    expect(decide(['dynamodb:*'])).toBe(true);
  });
});

describe('DynamoDB error classification', () => {
  const err = (name: string, status = 400): object => Object.assign(new Error('x'), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
  it.each([
    ['ExpiredTokenException', 400, 'stale_credential'],
    ['UnrecognizedClientException', 400, 'stale_credential'],
    ['InvalidSignatureException', 400, 'auth_rejected'],
    ['AccessDeniedException', 400, 'access_denied'],
    ['ThrottlingException', 400, 'transient'],
    ['ProvisionedThroughputExceededException', 400, 'transient'],
    ['RequestLimitExceeded', 400, 'transient'],
    ['InternalServerError', 500, 'transient'],
    ['ServiceUnavailable', 503, 'transient'],
    ['ConditionalCheckFailedException', 400, 'permanent'],
    ['ValidationException', 400, 'permanent'],
    ['TransactionCanceledException', 400, 'permanent'],
  ])('%s → %s', (name, status, cls) => {
    expect(classifyDynamoDbError(err(name, status)).class).toBe(cls);
  });
  it('treats a 500 as ambiguous (it may have been applied) and network resets as transient', () => {
    expect(classifyDynamoDbError(err('InternalServerError', 500))).toMatchObject({ class: 'transient', ambiguous: true });
    expect(classifyDynamoDbError(err('ThrottlingException'))).toMatchObject({ ambiguous: false });
    expect(classifyDynamoDbError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toMatchObject({ class: 'transient', ambiguous: true });
    expect(classifyDynamoDbError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({ class: 'transient', ambiguous: false });
    expect(classifyDynamoDbError('weird')).toMatchObject({ class: 'permanent' });
  });
});

describe('STS response reading and credential redaction', () => {
  it('extracts single leaves and refuses duplicates, markup and DTDs', () => {
    const doc = '<?xml version="1.0"?><AssumeRoleWithWebIdentityResponse xmlns="x"><Credentials><AccessKeyId>ASIA1</AccessKeyId><SessionToken>a&amp;b&#60;</SessionToken></Credentials></AssumeRoleWithWebIdentityResponse>';
    expect(rootElement(doc)).toBe('AssumeRoleWithWebIdentityResponse');
    const creds = element(doc, 'Credentials')!;
    expect(leafText(creds, 'SessionToken')).toBe('a&b<');
    expect(leafText('<A>1</A><A>2</A>', 'A')).toBeUndefined();
    expect(leafText('<A><B/></A>', 'A')).toBeUndefined();
    expect(leafText('<A>&foo;</A>', 'A')).toBeUndefined();
    expect(rootElement('<!DOCTYPE x [<!ENTITY e "boom">]><ErrorResponse/>')).toBeUndefined();
  });

  it('redacts the secret key and session token in JSON, String and inspect', () => {
    const c = new SessionCredentials({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'SECRET-KEY-CANARY', sessionToken: 'SESSION-TOKEN-CANARY', expiration: new Date(Date.now() + 60_000) }, 0, 0);
    expect(c.secretAccessKey).toBe('SECRET-KEY-CANARY');
    for (const text of [JSON.stringify(c), String(c), inspect(c), inspect({ nested: c }, { depth: 4 }), JSON.stringify(Object.assign({}, c))]) {
      expect(text).not.toContain('CANARY');
    }
    expect(JSON.stringify(c)).toContain('ASIAEXAMPLE');
  });
});
