/**
 * Median cost of one local policy decision against a 1,000-rule policy
 * (target ≤ 2,000 ns). Run: `npx tsx bench/policy.ts`.
 */
import { thousandRulePolicy } from './lib/policy-fixture.js';

const { policy, requests } = thousandRulePolicy();

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
