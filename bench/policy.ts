/**
 * Median cost of one local policy decision against a 1,000-rule policy
 * (target ≤ 2,000 ns). Run: `npx tsx bench/policy.ts`.
 */
import { compilePolicy } from '../src/policy/index.js';
import type { DecisionRequest } from '../src/policy/index.js';

const services = [];
for (let s = 0; s < 100; s++) {
  const rules = [];
  for (let r = 0; r < 10; r++) {
    rules.push({
      id: `svc${s}-rule${r}`,
      resources: [`mongodb:db${s}-${r}/*`, `dynamodb:table${s}-${r}`, `dynamodb:table${s}-${r}/index/*`],
      actions: r % 2 === 0 ? ['read'] : ['read', 'write'],
      ...(r === 9 ? { conditions: { environments: ['prod'], timeWindow: { start: '00:00', end: '23:59' } } } : {}),
    });
  }
  services.push({ id: `spiffe://prod.example/ns/ns${s}/sa/api`, rules });
}
const policy = compilePolicy({ version: 1, services });

const subject = 'spiffe://prod.example/ns/ns57/sa/api';
const requests: DecisionRequest[] = [
  { subject, system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:db57-3/items', action: 'read' }] },
  { subject, system: 'dynamodb', operation: 'PutItem', accesses: [{ resource: 'dynamodb:table57-9', action: 'write' }], context: { environment: 'prod' } },
  { subject, system: 'mongodb', operation: 'insertOne', accesses: [{ resource: 'mongodb:db57-2/items', action: 'write' }] }, // denied
  { subject, system: 'dynamodb', operation: 'Query', accesses: [{ resource: 'dynamodb:table57-5/index/byDate', action: 'read' }] },
];

function run(iterations: number): number {
  let allowed = 0;
  for (let i = 0; i < iterations; i++) if (policy.decide(requests[i & 3]!).allowed) allowed++;
  return allowed;
}

run(200_000); // warm-up
// Short samples: on a loaded machine a long sample is almost always preempted; the median short one is not.
const samples: number[] = [];
const perSample = 200;
for (let s = 0; s < 2001; s++) {
  const t0 = process.hrtime.bigint();
  run(perSample);
  samples.push(Number(process.hrtime.bigint() - t0) / perSample);
}
samples.sort((a, b) => a - b);
const at = (q: number): number => samples[Math.floor(q * (samples.length - 1))]!;
const median = at(0.5);
console.log(`rules: ${policy.ruleCount}`);
console.log(`median ns per decision: ${median.toFixed(0)} (p10 ${at(0.1).toFixed(0)}, p90 ${at(0.9).toFixed(0)}; target ≤ 2000)`);
console.log(`explain sample: ${JSON.stringify(policy.explain(requests[2]!).accesses[0]?.reason)}`);
