import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePolicy, loadPolicyFile } from '../../src/policy/index.js';

const example = fileURLToPath(new URL('../../examples/policy/policy.yaml', import.meta.url));

describe('examples/policy/policy.yaml', () => {
  it('is a valid policy that behaves as its comments say', async () => {
    const policy = compilePolicy(await loadPolicyFile(example), { clock: () => Date.UTC(2026, 11, 4, 9, 0) });
    const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
    const ask = (resource: string, action: 'read' | 'write' | 'admin', environment = 'prod', subject = svc) =>
      policy.decide({ subject, system: resource.startsWith('http') ? 'http' : resource.startsWith('dynamodb') ? 'dynamodb' : 'mongodb', operation: 'op', accesses: [{ resource, action }], context: { environment } });
    expect(ask('mongodb:orders/items', 'write').ruleId).toBe('orders-rw');
    expect(ask('mongodb:orders/items', 'write', 'dev').allowed).toBe(false);
    expect(ask('mongodb:orders/items', 'admin').ruleId).toBe('orders-admin-office-hours');
    expect(ask('mongodb:orders/payment_secrets', 'read').ruleId).toBe('no-payment-secrets');
    expect(ask('http:https://docs.internal:8443/v1/docs/42', 'read').allowed).toBe(true);
    expect(ask('mongodb:orders/items', 'read', 'prod', 'spiffe://prod.example/ns/reports/sa').ruleId).toBe('reports-read-orders');
    expect(ask('mongodb:orders/items', 'write', 'prod', 'spiffe://prod.example/ns/reports/sa').allowed).toBe(false);
  });
});
