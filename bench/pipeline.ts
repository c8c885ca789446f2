// Per-call overhead of guard.run on the success path versus calling the
// attempt directly. Run with: npx tsx bench/pipeline.ts
// No OTel SDK is registered (the global API is a no-op), the policy is an
// allow-all decision point, and the attempt resolves at once, so what is
// measured is the pipeline itself.
import { createGuard } from '../src/resilience/index.js';
import type { AttemptContext, Classification, OperationDescriptor } from '../src/resilience/index.js';
import type { AuditRecord } from '../src/audit/types.js';

const BATCHES = 30;
const PER_BATCH = 10_000;

const op: OperationDescriptor = {
  system: 'mongodb',
  operation: 'find',
  target: 'mongodb://orders-db:27017',
  accesses: [{ resource: 'mongodb:orders/items', action: 'read' }],
  idempotent: true,
  namespace: 'orders',
  collection: 'items',
  serverAddress: 'orders-db',
  serverPort: 27017,
};
const classify = (): Classification => ({ class: 'permanent', reason: 'bench' });
const attempt = async (ctx: AttemptContext<undefined>): Promise<number> => ctx.attempt;
const tokenAttempt = async (ctx: AttemptContext<string>): Promise<number> => ctx.credential.length;
const credential = { acquire: async () => 'token', invalidate: () => undefined };
const allowAll = { decide: () => ({ allowed: true, ruleId: 'allow-all', reason: 'bench' }) };

/** Median ns/op per variant; batches of all variants are interleaved so machine load hits them alike. */
async function medianNsPerOp(variants: readonly (() => Promise<unknown>)[]): Promise<number[]> {
  const samples: number[][] = variants.map(() => []);
  for (const fn of variants) for (let i = 0; i < PER_BATCH; i++) await fn(); // warm-up
  for (let b = 0; b < BATCHES; b++) {
    for (const [v, fn] of variants.entries()) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < PER_BATCH; i++) await fn();
      samples[v]!.push(Number(process.hrtime.bigint() - start) / PER_BATCH);
    }
  }
  return samples.map((list) => {
    list.sort((x, y) => x - y);
    return list[list.length >> 1]!;
  });
}

const plain = createGuard({ serviceId: 'spiffe://bench/ns/a/sa/orders', decisionPoint: allowAll });
let audited = 0;
const withAudit = createGuard({
  serviceId: 'spiffe://bench/ns/a/sa/orders',
  decisionPoint: allowAll,
  audit: {
    write: (r: AuditRecord) => {
      if (r.kind === 'outcome') audited++;
    },
  },
});

const [direct, directToken, guarded, guardedToken, guardedAudit] = await medianNsPerOp([
  () => attempt({ attempt: 1, credential: undefined, signal: undefined }),
  async () => tokenAttempt({ attempt: 1, credential: await credential.acquire(), signal: undefined }),
  () => plain.run({ op, attempt, classify }),
  () => plain.run({ op, attempt: tokenAttempt, classify, credential }),
  () => withAudit.run({ op, attempt, classify }),
]);
if (direct === undefined || directToken === undefined || guarded === undefined || guardedToken === undefined || guardedAudit === undefined) throw new Error('missing sample');

const row = (name: string, ns: number, base: number): void => {
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/op   overhead ${(ns - base).toFixed(0).padStart(6)} ns`);
};
console.log(`guard.run success path, median of ${BATCHES} batches × ${PER_BATCH} sequential calls (no-op OTel, allow-all policy)`);
row('attempt called directly', direct, direct);
row('guard.run (no audit)', guarded, direct);
row('attempt + credential hook directly', directToken, directToken);
row('guard.run with credential hook', guardedToken, directToken);
row('guard.run with audit sink (2 records/call)', guardedAudit, direct);
console.log(`outcome records written: ${audited}`);
await plain.close();
await withAudit.close();
