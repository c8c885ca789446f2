import { PassThrough, Writable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fanOutAuditSink, JsonLinesAuditSink, MemoryAuditSink, sanitizeAuditRecord, type AuditRecord } from '../../src/audit/index.js';

const base: AuditRecord = {
  time: '2026-12-04T10:00:00.000Z',
  kind: 'decision',
  service: 'spiffe://prod.example/ns/orders/sa/orders-api',
  system: 'mongodb',
  operation: 'find',
  action: 'read',
  resource: 'mongodb:orders/items',
  decision: 'allow',
  ruleId: 'orders-rw',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

function collect(stream: PassThrough): () => string {
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return () => out;
}

describe('JsonLinesAuditSink', () => {
  it('writes one valid JSON line per record with the known fields', async () => {
    const stream = new PassThrough();
    const text = collect(stream);
    const sink = new JsonLinesAuditSink(stream);
    sink.write(base);
    sink.write({ ...base, kind: 'outcome', outcome: 'ok', durationMs: 3.5, attempts: 1 });
    await sink.close();
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const parsed = lines.map((l) => JSON.parse(l) as AuditRecord);
    expect(parsed[0]).toEqual(base);
    expect(parsed[1]).toMatchObject({ kind: 'outcome', outcome: 'ok', durationMs: 3.5, attempts: 1 });
  });

  it('a slow stream never blocks: write() returns at once, buffers to maxBuffered, drops and counts the rest, flushes on drain', async () => {
    let release: (() => void) | undefined;
    const received: string[] = [];
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk.toString('utf8'));
        release = cb; // held until released: the stream is stuck
      },
    });
    const drops: number[] = [];
    const sink = new JsonLinesAuditSink(slow, { maxBuffered: 10, onDrop: (n) => drops.push(n) });
    for (let i = 0; i < 1000; i++) sink.write({ ...base, operation: `op${i}` });
    expect(sink.bufferedCount).toBe(10);
    expect(sink.droppedCount).toBe(1000 - 1 - 10);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(989);
    // unstick the stream: every buffered line gets written
    const pump = setInterval(() => release?.(), 1);
    await sink.close();
    clearInterval(pump);
    expect(received.join('').trimEnd().split('\n')).toHaveLength(11);
  });

  it('a failing stream never throws into the caller; errors and drops are counted', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk full'));
      },
    });
    const sink = new JsonLinesAuditSink(failing);
    sink.write(base);
    await new Promise((r) => setTimeout(r, 10));
    expect(() => {
      sink.write(base);
      sink.write(base);
    }).not.toThrow();
    expect(sink.errorCount).toBe(1);
    expect(sink.droppedCount).toBe(2);
    await sink.close();
    // a destroyed stream whose write() throws synchronously is fine too
    const destroyed = new PassThrough();
    destroyed.destroy();
    const sink2 = new JsonLinesAuditSink(destroyed);
    expect(() => { sink2.write(base); }).not.toThrow();
    await sink2.close();
  });

  it('close() gives up after its deadline when the stream never drains', async () => {
    const stuck = new Writable({ highWaterMark: 1, write() {} });
    const sink = new JsonLinesAuditSink(stuck, { closeTimeoutMs: 50 });
    sink.write(base);
    sink.write(base);
    await sink.close(); // resolves although the stream never drains
    expect(sink.droppedCount).toBe(1);
  });
});

describe('audit records never carry a secret or a document body', () => {
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ';
  const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCANARY\n-----END PRIVATE KEY-----';

  it('sanitize drops unknown keys and redacts token/PEM-looking values (canary)', () => {
    const dirty = {
      ...base,
      token: jwt,
      document: { sku: 'CANARY-BODY', card: '4111111111111111' },
      headers: { authorization: `Bearer ${jwt}` },
      reason: `denied; token was Bearer abcdefghijklmnop and ${jwt}`,
      resource: `http:https://docs.internal:8443/v1/docs/42?access_token=CANARYTOKEN`,
      correlationId: pem,
      resources: [`mongodb:orders/items`, jwt],
    } as unknown as AuditRecord;
    const clean = sanitizeAuditRecord(dirty);
    const serialised = JSON.stringify(clean) + inspect(clean, { depth: 5 });
    for (const canary of [jwt, 'CANARY-BODY', '4111111111111111', 'abcdefghijklmnop', 'CANARYTOKEN', 'BEGIN PRIVATE KEY', 'CANARY']) expect(serialised).not.toContain(canary);
    expect(Object.keys(clean).sort()).toEqual(['action', 'correlationId', 'decision', 'kind', 'operation', 'reason', 'resource', 'resources', 'ruleId', 'service', 'system', 'time', 'traceId']);
    expect(clean.resources?.[0]).toBe('mongodb:orders/items');
  });

  it('every sink sanitises: memory, JSON lines, fan-out', async () => {
    const memory = new MemoryAuditSink();
    const stream = new PassThrough();
    const text = collect(stream);
    const lines = new JsonLinesAuditSink(stream);
    const throwing = { write: () => { throw new Error('boom'); } };
    const fan = fanOutAuditSink(throwing, memory, lines);
    const dirty = { ...base, body: { secret: 'CANARY-BODY' }, reason: `Bearer ${jwt}` } as unknown as AuditRecord;
    expect(() => { fan.write(dirty); }).not.toThrow();
    await fan.close();
    expect(memory.records).toHaveLength(1);
    expect(JSON.stringify(memory.records)).not.toMatch(/CANARY|eyJ/);
    expect(text()).not.toMatch(/CANARY|eyJ/);
    expect(text()).toContain('[REDACTED');
  });

  it('MemoryAuditSink is bounded and filters by kind', () => {
    const m = new MemoryAuditSink({ maxRecords: 2 });
    m.write(base);
    m.write({ ...base, kind: 'outcome', outcome: 'ok' });
    m.write(base);
    expect(m.records).toHaveLength(2);
    expect(m.droppedCount).toBe(1);
    expect(m.ofKind('outcome')).toHaveLength(1);
  });
});
