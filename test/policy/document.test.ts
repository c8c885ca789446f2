import { describe, expect, it } from 'vitest';
import { parsePolicyText, validatePolicyDocument, compilePolicy } from '../../src/policy/index.js';
import { hasErrorCode, type SecureNosqlError } from '../../src/errors/index.js';

function errorOf(fn: () => unknown): SecureNosqlError {
  try {
    fn();
  } catch (e) {
    if (hasErrorCode(e, 'CONFIG_INVALID')) return e;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';

function doc(rules: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { version: 1, services: [{ id: svc, rules }], ...extra };
}

describe('policy document schema', () => {
  it('accepts a valid document with every condition', () => {
    const d = validatePolicyDocument(
      doc([
        { id: 'r1', resources: ['mongodb:orders/*', 'dynamodb:orders/index/*', 'http:https://docs.internal:8443/v1/docs/**'], actions: ['read', 'write'], conditions: { environments: ['prod'], timeWindow: { days: ['mon', 'fri'], start: '08:00', end: '18:00' }, rate: { perSecond: 5, burst: 10 } } },
        { id: 'r2', effect: 'deny', resources: ['mongodb:orders/secrets'], actions: ['read'] },
      ]),
    );
    expect(d.services[0]?.rules).toHaveLength(2);
  });

  it('points at an invalid action with its exact path', () => {
    const e = errorOf(() => validatePolicyDocument(doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'] }, { id: 'b', resources: ['mongodb:a/b'], actions: ['read'] }, { id: 'c', resources: ['mongodb:a/b'], actions: ['read', 'delete'] }])));
    expect(e.message).toContain('services[0].rules[2].actions[1]: "delete" is not one of read, write, admin');
  });

  it('rejects unknown keys at every level', () => {
    expect(errorOf(() => validatePolicyDocument({ ...(doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'] }]) as object), extra: 1 })).message).toContain('extra: unknown key');
    expect(errorOf(() => validatePolicyDocument(doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'], effects: 'deny' }]))).message).toContain('services[0].rules[0].effects: unknown key');
    expect(errorOf(() => validatePolicyDocument(doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'], conditions: { env: ['prod'] } }]))).message).toContain('services[0].rules[0].conditions.env: unknown key');
  });

  it('rejects duplicate rule ids across services', () => {
    const e = errorOf(() =>
      validatePolicyDocument({
        version: 1,
        services: [
          { id: svc, rules: [{ id: 'dup', resources: ['mongodb:a/b'], actions: ['read'] }] },
          { id: 'spiffe://prod.example/ns/x/*', rules: [{ id: 'dup', resources: ['mongodb:a/b'], actions: ['read'] }] },
        ],
      }),
    );
    expect(e.message).toContain('services[1].rules[0].id: duplicate rule id "dup" (first used at services[0].rules[0].id)');
  });

  it('rejects bad patterns, subjects, times and rates with paths', () => {
    const cases: [unknown, string][] = [
      [doc([{ id: 'a', resources: ['postgres:a/b'], actions: ['read'] }]), 'services[0].rules[0].resources[0]: "postgres:a/b" is not a valid resource pattern'],
      [doc([{ id: 'a', resources: ['mongodb:orders-*'], actions: ['read'] }]), 'services[0].rules[0].resources[0]: "mongodb:orders-*" is not a valid resource pattern: segment 1 ("orders-*"): a wildcard must be a whole segment'],
      [doc([{ id: 'a', resources: ['mongodb:**/x'], actions: ['read'] }]), '"**" is only allowed as the last segment'],
      [doc([{ id: 'a', resources: ['mongodb:orders/../admin'], actions: ['read'] }]), 'dot segment'],
      [doc([{ id: 'a', resources: [], actions: ['read'] }]), 'services[0].rules[0].resources: must not be empty'],
      [doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'], conditions: { timeWindow: { start: '8:00', end: '25:00' } } }]), 'services[0].rules[0].conditions.timeWindow.start: "8:00" is not a UTC time'],
      [doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'], conditions: { timeWindow: { days: ['monday'], start: '08:00', end: '09:00' } } }]), 'services[0].rules[0].conditions.timeWindow.days[0]: "monday" is not one of sun, mon'],
      [doc([{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'], conditions: { rate: { perSecond: 0 } } }]), 'services[0].rules[0].conditions.rate.perSecond: number 0 is not a positive number'],
      [{ version: 1, services: [{ id: 'orders-api', rules: [{ id: 'a', resources: ['mongodb:a/b'], actions: ['read'] }] }] }, 'services[0].id: "orders-api" is not a SPIFFE ID'],
      [{ version: 2, services: [] }, 'version: must be 1'],
      [[], '(root): expected an object'],
    ];
    for (const [input, expected] of cases) expect(errorOf(() => validatePolicyDocument(input)).message).toContain(expected);
  });

  it('parses YAML and fails closed on invalid YAML with a line number', () => {
    const d = parsePolicyText(`version: 1\nservices:\n  - id: ${svc}\n    rules:\n      - id: r\n        resources: ["mongodb:orders/*"]\n        actions: [read]\n        conditions: { timeWindow: { start: 08:00, end: "18:00" } }\n`);
    expect(d.services[0]?.rules[0]?.conditions?.timeWindow?.start).toBe('08:00');
    const e = errorOf(() => parsePolicyText('version: 1\nservices: [\n  - id: x\n'));
    expect(e.message).toMatch(/not valid YAML\/JSON at line \d+/);
    expect(errorOf(() => parsePolicyText('version: 1\nversion: 1\nservices: []')).message).toContain('not valid YAML');
  });

  it('compilePolicy fails closed with CONFIG_INVALID for an invalid or missing document', () => {
    expect(errorOf(() => compilePolicy(undefined)).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => compilePolicy({ version: 1, services: [] })).message).toContain('services: must not be empty');
  });
});
