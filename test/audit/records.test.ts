import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decisionAuditRecord, JsonLinesAuditSink, MemoryAuditSink, outcomeAuditRecord } from '../../src/audit/index.js';
import { compilePolicy, type DecisionRequest } from '../../src/policy/index.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const policy = compilePolicy({ version: 1, services: [{ id: svc, rules: [{ id: 'orders-rw', resources: ['mongodb:orders/*'], actions: ['read', 'write'] }] }] });

describe('decision and outcome audit records', () => {
  it('carry the fields of DESIGN §6 (time, service, action, resource, decision, rule id, outcome, duration, trace id)', () => {
    const request: DecisionRequest = { subject: svc, system: 'mongodb', operation: 'aggregate', accesses: [{ resource: 'mongodb:orders/items', action: 'read' }, { resource: 'mongodb:orders/summary', action: 'write' }] };
    const decision = policy.decide(request);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const d = decisionAuditRecord(request, decision, { traceId, time: new Date(0) });
    expect(d).toEqual({ time: '1970-01-01T00:00:00.000Z', kind: 'decision', service: svc, system: 'mongodb', operation: 'aggregate', action: 'write', resource: 'mongodb:orders/items', resources: ['mongodb:orders/items', 'mongodb:orders/summary'], decision: 'allow', ruleId: 'orders-rw', traceId });
    const o = outcomeAuditRecord(request, decision, { outcome: 'ok', durationMs: 4.2, attempts: 1, traceId });
    expect(o).toMatchObject({ kind: 'outcome', outcome: 'ok', durationMs: 4.2, attempts: 1, decision: 'allow' });
    const denied: DecisionRequest = { ...request, accesses: [{ resource: 'mongodb:billing/x', action: 'read' }] };
    expect(decisionAuditRecord(denied, policy.decide(denied))).toMatchObject({ decision: 'deny', resource: 'mongodb:billing/x', reason: expect.stringContaining('no rule matched') });
  });

  it('a run of operations yields exactly one decision and one outcome record each, through a JSON-lines sink', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const sink = new JsonLinesAuditSink(stream);
    const memory = new MemoryAuditSink();
    const ops = Array.from({ length: 50 }, (_, i): DecisionRequest => ({ subject: svc, system: 'mongodb', operation: `op${i}`, accesses: [{ resource: i % 5 === 0 ? 'mongodb:billing/x' : 'mongodb:orders/items', action: 'read' }] }));
    for (const op of ops) {
      const decision = policy.decide(op);
      for (const s of [sink, memory]) s.write(decisionAuditRecord(op, decision));
      const outcome = outcomeAuditRecord(op, decision, { outcome: decision.allowed ? 'ok' : 'POLICY_DENIED', durationMs: 1 });
      for (const s of [sink, memory]) s.write(outcome);
    }
    await sink.close();
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; operation: string; outcome?: string });
    for (const op of ops) {
      expect(lines.filter((l) => l.operation === op.operation && l.kind === 'outcome')).toHaveLength(1);
      expect(lines.filter((l) => l.operation === op.operation && l.kind === 'decision')).toHaveLength(1);
    }
    expect(memory.ofKind('outcome').filter((r) => r.outcome === 'POLICY_DENIED')).toHaveLength(10);
  });
});
