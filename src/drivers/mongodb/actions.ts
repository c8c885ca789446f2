import type { Action, ResourceAccess } from '../../policy/types.js';

/**
 * Collection methods and the action each needs on its collection. A method
 * that is not listed is denied (POLICY_DENIED) before anything is sent.
 * Cursor-returning reads are guarded per batch (`find`/`aggregate` first
 * batch, then `getMore`).
 */
export const COLLECTION_METHOD_ACTIONS: Readonly<Record<string, Action>> = Object.freeze({
  find: 'read',
  findOne: 'read',
  aggregate: 'read',
  countDocuments: 'read',
  estimatedDocumentCount: 'read',
  count: 'read',
  distinct: 'read',
  listIndexes: 'read',
  indexes: 'read',
  indexExists: 'read',
  indexInformation: 'read',
  options: 'read',
  isCapped: 'read',
  insertOne: 'write',
  insertMany: 'write',
  updateOne: 'write',
  updateMany: 'write',
  replaceOne: 'write',
  deleteOne: 'write',
  deleteMany: 'write',
  bulkWrite: 'write',
  findOneAndUpdate: 'write',
  findOneAndReplace: 'write',
  findOneAndDelete: 'write',
  createIndex: 'admin',
  createIndexes: 'admin',
  dropIndex: 'admin',
  dropIndexes: 'admin',
  drop: 'admin',
  rename: 'admin',
});

/** `mongodb:<db>/<collection>`. */
export function mongoResource(db: string, collection: string): string {
  return `mongodb:${db}/${collection}`;
}

type StageSpec = Record<string, unknown>;

function targetOf(spec: unknown, db: string, key: 'coll' | 'into'): { db: string; coll: string } | undefined {
  if (typeof spec === 'string') return { db, coll: spec };
  if (spec === null || typeof spec !== 'object') return undefined;
  const inner = key === 'into' ? (spec as { into?: unknown }).into : spec;
  if (typeof inner === 'string') return { db, coll: inner };
  if (inner === null || typeof inner !== 'object') return undefined;
  const { db: d, coll } = inner as { db?: unknown; coll?: unknown };
  if (typeof coll !== 'string') return undefined;
  return { db: typeof d === 'string' ? d : db, coll };
}

/**
 * Walks an aggregation pipeline and appends what it touches beyond the source
 * collection: `$out`/`$merge` → write on the target; `$lookup`,
 * `$graphLookup`, `$unionWith` → read on the joined collection, including
 * pipelines nested in `$lookup`, `$unionWith` and `$facet`. A stage whose
 * target cannot be read (an unexpected shape) yields `undefined`: the caller
 * then denies the operation rather than guess.
 * @internal
 */
export function pipelineAccesses(pipeline: unknown, db: string, out: ResourceAccess[]): boolean {
  if (pipeline === undefined) return true;
  if (!Array.isArray(pipeline)) return false;
  for (const stage of pipeline as unknown[]) {
    if (stage === null || typeof stage !== 'object') return false;
    for (const [name, spec] of Object.entries(stage as StageSpec)) {
      switch (name) {
        case '$out': {
          const t = targetOf(spec, db, 'coll');
          if (t === undefined) return false;
          out.push({ resource: mongoResource(t.db, t.coll), action: 'write' });
          break;
        }
        case '$merge': {
          const t = targetOf(spec, db, 'into');
          if (t === undefined) return false;
          out.push({ resource: mongoResource(t.db, t.coll), action: 'write' });
          break;
        }
        case '$lookup':
        case '$graphLookup': {
          const s = spec as { from?: unknown; pipeline?: unknown } | null;
          if (s === null || typeof s !== 'object') return false;
          const from = targetOf(s.from, db, 'coll');
          // `$lookup` with only `pipeline` (and $documents) has no `from`.
          if (s.from !== undefined) {
            if (from === undefined) return false;
            out.push({ resource: mongoResource(from.db, from.coll), action: 'read' });
          }
          if (!pipelineAccesses(s.pipeline, db, out)) return false;
          break;
        }
        case '$unionWith': {
          const t = targetOf(spec, db, 'coll');
          if (t !== undefined && typeof spec === 'string') {
            out.push({ resource: mongoResource(t.db, t.coll), action: 'read' });
            break;
          }
          const s = spec as { coll?: unknown; pipeline?: unknown } | null;
          if (s === null || typeof s !== 'object') return false;
          if (s.coll !== undefined) {
            if (typeof s.coll !== 'string') return false;
            out.push({ resource: mongoResource(db, s.coll), action: 'read' });
          }
          if (!pipelineAccesses(s.pipeline, db, out)) return false;
          break;
        }
        case '$facet': {
          if (spec === null || typeof spec !== 'object') return false;
          for (const sub of Object.values(spec as StageSpec)) if (!pipelineAccesses(sub, db, out)) return false;
          break;
        }
        default:
          break;
      }
    }
  }
  return true;
}

/**
 * The accesses of one collection method call: the method's own action on the
 * collection, plus what an aggregation pipeline touches. Returns an empty
 * list for an unknown method or an unreadable pipeline (the guard denies an
 * empty list).
 * @internal
 */
export function accessesFor(method: string, db: string, collection: string, args: readonly unknown[]): ResourceAccess[] {
  const action = Object.hasOwn(COLLECTION_METHOD_ACTIONS, method) ? COLLECTION_METHOD_ACTIONS[method] : undefined;
  if (action === undefined) return [];
  const accesses: ResourceAccess[] = [{ resource: mongoResource(db, collection), action }];
  if (method === 'aggregate' && !pipelineAccesses(args[0] ?? [], db, accesses)) return [];
  if (method === 'rename' && typeof args[0] === 'string') accesses.push({ resource: mongoResource(db, args[0]), action: 'admin' });
  return accesses;
}
