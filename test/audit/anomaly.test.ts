import { describe, expect, it } from 'vitest';
import { AnomalyDetector, MemoryAuditSink, type Anomaly, type AuditRecord } from '../../src/audit/index.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const rec = (resource = 'mongodb:orders/items', extra: Partial<AuditRecord> = {}): AuditRecord => ({ time: '', kind: 'decision', service: svc, system: 'mongodb', operation: 'find', action: 'read', resource, decision: 'allow', ...extra });

function setup(extra: { firstSeenWarmupMs?: number; maxKeys?: number } = {}) {
  let now = 1_000_000_000_000;
  const audit = new MemoryAuditSink();
  const metric: Anomaly[] = [];
  const detector = new AnomalyDetector({ intervalMs: 1000, warmupIntervals: 3, burstFactor: 5, minBurstCount: 10, firstSeenWarmupMs: extra.firstSeenWarmupMs ?? 3000, clock: () => now, audit, onAnomaly: (a) => metric.push(a), ...(extra.maxKeys === undefined ? {} : { maxKeys: extra.maxKeys }) });
  const events: Anomaly[] = [];
  detector.events.on((e) => events.push(e));
  return { detector, audit, metric, events, advance: (ms: number) => (now += ms) };
}

describe('AnomalyDetector', () => {
  it('flags a burst over the baseline after warm-up: event, metric hook and audit record', () => {
    const { detector, audit, metric, events, advance } = setup({ firstSeenWarmupMs: 1e12 });
    // a steady 4 calls per interval for 5 intervals
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 4; j++) detector.observe(rec());
      advance(1000);
    }
    expect(events).toHaveLength(0);
    for (let j = 0; j < 30; j++) detector.observe(rec());
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'burst', service: svc, action: 'read', resource: 'mongodb:orders/items' });
    expect(events[0]?.baseline).toBeCloseTo(4, 0);
    expect(metric).toHaveLength(1);
    expect(audit.ofKind('anomaly')[0]).toMatchObject({ kind: 'anomaly', reason: 'burst', service: svc, resource: 'mongodb:orders/items' });
    // once per interval
    for (let j = 0; j < 30; j++) detector.observe(rec());
    expect(events).toHaveLength(1);
    void detector.close();
  });

  it('does not flag a burst before warm-up, or under the absolute floor', () => {
    const { detector, events, advance } = setup({ firstSeenWarmupMs: 1e12 });
    for (let j = 0; j < 100; j++) detector.observe(rec()); // first interval: no baseline yet
    advance(1000);
    for (let j = 0; j < 500; j++) detector.observe(rec()); // still warming up
    expect(events).toHaveLength(0);
    const quiet = setup({ firstSeenWarmupMs: 1e12 });
    for (let i = 0; i < 5; i++) {
      quiet.detector.observe(rec());
      quiet.advance(1000);
    }
    for (let j = 0; j < 10; j++) quiet.detector.observe(rec()); // 10× baseline but not above the floor of 10
    expect(quiet.events).toHaveLength(0);
    quiet.detector.observe(rec());
    expect(quiet.events.map((e) => e.kind)).toEqual(['burst']);
  });

  it('flags first-seen resources only after the warm-up, once per (service, resource)', () => {
    const { detector, events, audit, advance } = setup();
    detector.observe(rec('mongodb:orders/items'));
    expect(events).toHaveLength(0); // before warm-up: learning
    advance(5000);
    detector.observe(rec('mongodb:orders/items'));
    expect(events).toHaveLength(0); // known
    detector.observe(rec('mongodb:billing/cards', { action: 'write' }));
    expect(events).toMatchObject([{ kind: 'first_seen', resource: 'mongodb:billing/cards', action: 'write' }]);
    detector.observe(rec('mongodb:billing/cards'));
    expect(events).toHaveLength(1);
    expect(audit.ofKind('anomaly')[0]).toMatchObject({ reason: 'first_seen' });
    // every resource of a multi-resource record is counted; other kinds are ignored
    detector.observe(rec('mongodb:orders/items', { resources: ['mongodb:orders/items', 'mongodb:hr/salaries'] }));
    detector.observe(rec('mongodb:x/y', { kind: 'outcome' }));
    expect(events.map((e) => e.resource)).toEqual(['mongodb:billing/cards', 'mongodb:hr/salaries']);
  });

  it('keeps memory bounded (LRU on keys)', () => {
    const { detector } = setup({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) detector.observe(rec(`mongodb:orders/c${i}`));
    expect(detector.trackedKeys).toBe(100);
  });
});
