import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import type { AuditRecord, AuditSink } from '../../src/audit/types.js';
import type { DecisionPoint } from '../../src/policy/types.js';
import type { AttemptContext, Classification, CredentialHook, ErrorClassifier, OperationDescriptor } from '../../src/resilience/types.js';

/** A driver-like error that carries the classification the test wants. */
export class ClassifiedError extends Error {
  constructor(
    readonly classification: Classification,
    message = 'driver failure',
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

/** The adapter classifier used by the tests: reads the classification off the error. */
export const classify: ErrorClassifier = (error) =>
  error instanceof ClassifiedError ? error.classification : { class: 'permanent', reason: 'unknown' };

/** An operation descriptor for a MongoDB find on orders.items. */
export function op(overrides: Partial<OperationDescriptor> = {}): OperationDescriptor {
  return {
    system: 'mongodb',
    operation: 'find',
    target: 'mongodb://orders-db:27017',
    accesses: [{ resource: 'mongodb:orders/items', action: 'read' }],
    idempotent: true,
    namespace: 'orders',
    collection: 'items',
    serverAddress: 'orders-db',
    serverPort: 27017,
    audience: 'orders-db',
    ...overrides,
  };
}

/** Allows everything, synchronously. */
export const allowAll: DecisionPoint = { decide: () => ({ allowed: true, ruleId: 'allow-all', reason: 'test policy' }) };

/** An array-collecting audit sink. */
export function collectingSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (r) => records.push(r) };
}

/** Outcome script for an attempt function: `'ok'` or a classification to throw. */
export type Step = 'ok' | Classification;

/** An attempt function that plays `steps` in order (the last one repeats) and counts calls. */
export function scripted<C = undefined>(steps: readonly Step[], message = 'driver failure') {
  const contexts: AttemptContext<C>[] = [];
  const attempt = async (ctx: AttemptContext<C>): Promise<string> => {
    contexts.push(ctx);
    const step = steps[Math.min(contexts.length - 1, steps.length - 1)]!;
    if (step === 'ok') return 'result';
    throw new ClassifiedError(step, message);
  };
  return {
    attempt,
    contexts,
    get calls() {
      return contexts.length;
    },
  };
}

/** A credential hook that hands out numbered tokens and records invalidations and force refreshes. */
export function credentialHook() {
  let n = 0;
  const acquired: { forceRefresh: boolean; token: string }[] = [];
  const invalidated: string[] = [];
  const hook: CredentialHook<string> = {
    acquire: async (_signal, forceRefresh) => {
      if (forceRefresh || n === 0) n++;
      const token = `token-${n}`;
      acquired.push({ forceRefresh, token });
      return token;
    },
    invalidate: (token) => invalidated.push(token),
  };
  return { hook, acquired, invalidated };
}

class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A real OTel SDK wired to in-memory exporters. */
export function otel() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    /** Every metric by name after a collection. */
    async metrics(): Promise<Map<string, MetricData>> {
      const { resourceMetrics } = await reader.collect();
      const out = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) out.set(m.descriptor.name, m);
      return out;
    },
    async shutdown(): Promise<void> {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The data points of a metric (empty when absent). */
export function points(metric: MetricData | undefined): DataPoint<unknown>[] {
  return (metric?.dataPoints ?? []);
}

/** Zero jitter and instant sleeps that record the requested delays. */
export function instantSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}
