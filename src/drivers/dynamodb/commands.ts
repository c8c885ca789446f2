import type { Action, ResourceAccess } from '../../policy/types.js';
import { parsePartiqlStatement, type PartiqlTarget } from './partiql.js';

/** What one DynamoDB command does, for policy, retries and spans. */
export interface DynamoDbCommandDescription {
  /** The operation name without the `Command` suffix (`GetItem`). */
  readonly operation: string;
  /** Every resource touched with its action; empty means unknown, which the policy denies. */
  readonly accesses: readonly ResourceAccess[];
  /** Safe to repeat after an ambiguous failure. */
  readonly idempotent: boolean;
  /** The table, when exactly one is touched (span `db.collection.name`). */
  readonly table: string | undefined;
}

type Input = Readonly<Record<string, unknown>>;

/** Resource name of a table or of one of its indexes. */
export function dynamoDbResource(table: string, index?: string): string {
  return index === undefined ? `dynamodb:${table}` : `dynamodb:${table}/index/${index}`;
}

/** The resource that stands for the whole account (ListTables and other table-less reads). */
export const DYNAMODB_ALL_TABLES = 'dynamodb:*';

const ARN_TABLE = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)(?:\/.*)?$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

/** A table name, or the table of a table/backup/export/import/stream ARN; undefined otherwise. */
export function tableOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.startsWith('arn:')) return ARN_TABLE.exec(value)?.[1];
  return TABLE_NAME.test(value) ? value : undefined;
}

function obj(value: unknown): Input {
  return typeof value === 'object' && value !== null ? (value as Input) : {};
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

const READ_BY_TABLE_NAME = new Set([
  'GetItem',
  'DescribeTable',
  'DescribeTimeToLive',
  'DescribeContinuousBackups',
  'DescribeContributorInsights',
  'DescribeKinesisStreamingDestination',
  'DescribeTableReplicaAutoScaling',
]);
const WRITE_BY_TABLE_NAME = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const ADMIN_BY_TABLE_NAME = new Set([
  'CreateTable',
  'DeleteTable',
  'UpdateTable',
  'UpdateTimeToLive',
  'CreateBackup',
  'UpdateContinuousBackups',
  'UpdateContributorInsights',
  'EnableKinesisStreamingDestination',
  'DisableKinesisStreamingDestination',
  'UpdateKinesisStreamingDestination',
  'UpdateTableReplicaAutoScaling',
]);
/** Commands that name no table: reads of account-wide metadata, resource `dynamodb:*`. */
const READ_ACCOUNT = new Set(['ListTables', 'ListBackups', 'ListGlobalTables', 'ListExports', 'ListImports', 'ListContributorInsights', 'DescribeLimits', 'DescribeEndpoints']);
/** Commands addressed by an ARN field, with the action they need on the ARN's table. */
const BY_ARN: Readonly<Record<string, readonly [field: string, action: Action]>> = {
  ListTagsOfResource: ['ResourceArn', 'read'],
  GetResourcePolicy: ['ResourceArn', 'read'],
  TagResource: ['ResourceArn', 'admin'],
  UntagResource: ['ResourceArn', 'admin'],
  PutResourcePolicy: ['ResourceArn', 'admin'],
  DeleteResourcePolicy: ['ResourceArn', 'admin'],
  DescribeBackup: ['BackupArn', 'read'],
  DeleteBackup: ['BackupArn', 'admin'],
  DescribeExport: ['ExportArn', 'read'],
  DescribeImport: ['ImportArn', 'read'],
  ExportTableToPointInTime: ['TableArn', 'read'],
};
/** Global tables are named by GlobalTableName. */
const BY_GLOBAL_TABLE: Readonly<Record<string, Action>> = {
  CreateGlobalTable: 'admin',
  UpdateGlobalTable: 'admin',
  UpdateGlobalTableSettings: 'admin',
  DescribeGlobalTable: 'read',
  DescribeGlobalTableSettings: 'read',
};

class Accesses {
  readonly items: ResourceAccess[] = [];
  /** False once something could not be read: the whole command is then denied. */
  ok = true;

  add(table: unknown, action: Action, index?: unknown): void {
    const name = tableOf(table);
    if (name === undefined || (index !== undefined && (typeof index !== 'string' || index === ''))) {
      this.ok = false;
      return;
    }
    const resource = dynamoDbResource(name, index);
    // Deduplicate: a batch on one table is one access; a stronger action on the same resource replaces a weaker one.
    const existing = this.items.findIndex((a) => a.resource === resource);
    const current = this.items[existing];
    if (current === undefined) this.items.push({ resource, action });
    else if (rank(action) > rank(current.action)) this.items[existing] = { resource, action };
  }

  addPartiql(target: PartiqlTarget | undefined): void {
    if (target === undefined) this.ok = false;
    else this.add(target.table, target.action, target.index);
  }

  result(): readonly ResourceAccess[] {
    return this.ok ? this.items : [];
  }
}

function rank(action: Action): number {
  return action === 'admin' ? 3 : action === 'write' ? 2 : 1;
}

const TRANSACT_WRITE_KINDS: Readonly<Record<string, Action>> = { Put: 'write', Update: 'write', Delete: 'write', ConditionCheck: 'read' };

/** One table, one action. Replaying a Put or Delete leaves the same state; a conditional one or an Update may not. */
function singleTable(operation: string, table: unknown, action: Action, idempotent: boolean): DynamoDbCommandDescription {
  const name = tableOf(table);
  if (name === undefined) return { operation, accesses: [], idempotent: false, table: undefined };
  return { operation, accesses: [{ resource: `dynamodb:${name}`, action }], idempotent, table: name };
}

function hasCondition(input: Input): boolean {
  return input.ConditionExpression !== undefined || input.Expected !== undefined;
}

/**
 * Maps a DynamoDB command and its input to the resources it touches and the
 * action on each (DESIGN.md §6). Reads: GetItem, Query, Scan, BatchGetItem,
 * TransactGetItems, Describe*, List* (`dynamodb:*` for table-less ones);
 * writes: PutItem, UpdateItem, DeleteItem, BatchWriteItem, the write items of
 * TransactWriteItems (its ConditionChecks are reads); admin: table, backup,
 * stream, TTL, tag and policy management. An `IndexName` makes the resource
 * `dynamodb:<table>/index/<name>`. PartiQL statements are parsed for their
 * verb and table. An unknown command, or an input whose tables cannot be
 * read, yields no accesses, which the policy denies.
 */
export function describeDynamoDbCommand(operation: string, rawInput: unknown): DynamoDbCommandDescription {
  const input = obj(rawInput);
  // Fast path for the hot single-table item operations: no intermediate objects.
  if (READ_BY_TABLE_NAME.has(operation)) return singleTable(operation, input.TableName, 'read', true);
  if (WRITE_BY_TABLE_NAME.has(operation)) return singleTable(operation, input.TableName, 'write', operation !== 'UpdateItem' && !hasCondition(input));
  const acc = new Accesses();
  let idempotent = false;
  if (operation === 'Query' || operation === 'Scan') {
    acc.add(input.TableName, 'read', input.IndexName);
    idempotent = true;
  } else if (ADMIN_BY_TABLE_NAME.has(operation)) {
    acc.add(input.TableName, 'admin');
  } else if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const tables = Object.keys(obj(input.RequestItems));
    if (tables.length === 0) acc.ok = false;
    for (const t of tables) acc.add(t, operation === 'BatchGetItem' ? 'read' : 'write');
    idempotent = true;
  } else if (operation === 'TransactGetItems') {
    const items = list(input.TransactItems);
    if (items.length === 0) acc.ok = false;
    for (const item of items) acc.add(obj(obj(item).Get).TableName, 'read');
    idempotent = true;
  } else if (operation === 'TransactWriteItems') {
    const items = list(input.TransactItems);
    if (items.length === 0) acc.ok = false;
    for (const item of items) {
      const entries = Object.entries(obj(item)).filter(([, v]) => v !== undefined);
      const [kind, op] = entries.length === 1 && entries[0] !== undefined ? entries[0] : ['', undefined];
      const action = TRANSACT_WRITE_KINDS[kind];
      if (action === undefined) acc.ok = false;
      else acc.add(obj(op).TableName, action);
    }
    // The adapter pins ClientRequestToken before the first attempt, so DynamoDB deduplicates replays.
    idempotent = true;
  } else if (operation === 'ExecuteStatement') {
    const target = parsePartiqlStatement(input.Statement);
    acc.addPartiql(target);
    idempotent = target?.action === 'read';
  } else if (operation === 'BatchExecuteStatement' || operation === 'ExecuteTransaction') {
    const statements = list(operation === 'ExecuteTransaction' ? input.TransactStatements : input.Statements);
    if (statements.length === 0) acc.ok = false;
    let allReads = true;
    for (const s of statements) {
      const target = parsePartiqlStatement(obj(s).Statement);
      if (target?.action !== 'read') allReads = false;
      acc.addPartiql(target);
    }
    idempotent = allReads || operation === 'ExecuteTransaction';
  } else if (READ_ACCOUNT.has(operation)) {
    acc.items.push({ resource: DYNAMODB_ALL_TABLES, action: 'read' });
    idempotent = true;
  } else if (BY_ARN[operation] !== undefined) {
    const [field, action] = BY_ARN[operation];
    acc.add(input[field], action);
    idempotent = action === 'read';
  } else if (BY_GLOBAL_TABLE[operation] !== undefined) {
    const action = BY_GLOBAL_TABLE[operation];
    acc.add(input.GlobalTableName, action);
    idempotent = action === 'read';
  } else if (operation === 'RestoreTableFromBackup') {
    acc.add(input.TargetTableName, 'admin');
    acc.add(input.BackupArn, 'read');
  } else if (operation === 'RestoreTableToPointInTime') {
    acc.add(input.TargetTableName, 'admin');
    acc.add(input.SourceTableName ?? input.SourceTableArn, 'read');
  } else if (operation === 'ImportTable') {
    acc.add(obj(input.TableCreationParameters).TableName, 'admin');
  } else {
    acc.ok = false; // unknown (or newer) command: denied until it is mapped here
  }
  const accesses = acc.result();
  const only = accesses.length === 1 ? accesses[0] : undefined;
  const single = only?.resource.slice('dynamodb:'.length).split('/')[0];
  return { operation, accesses, idempotent: accesses.length > 0 && idempotent, table: single === '*' ? undefined : single };
}
