import { compilePolicy, type DecisionRequest, type LocalDecisionPoint } from '../../src/policy/index.js';

/**
 * The policy both policy benchmarks measure: 100 services × 10 rules (1,000
 * rules), and four requests for one service (three allowed, one denied).
 */
export function thousandRulePolicy(): { policy: LocalDecisionPoint; requests: readonly DecisionRequest[] } {
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
  const subject = 'spiffe://prod.example/ns/ns57/sa/api';
  return {
    policy: compilePolicy({ version: 1, services }),
    requests: [
      { subject, system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:db57-3/items', action: 'read' }] },
      { subject, system: 'dynamodb', operation: 'PutItem', accesses: [{ resource: 'dynamodb:table57-9', action: 'write' }], context: { environment: 'prod' } },
      { subject, system: 'mongodb', operation: 'insertOne', accesses: [{ resource: 'mongodb:db57-2/items', action: 'write' }] }, // denied
      { subject, system: 'dynamodb', operation: 'Query', accesses: [{ resource: 'dynamodb:table57-5/index/byDate', action: 'read' }] },
    ],
  };
}
