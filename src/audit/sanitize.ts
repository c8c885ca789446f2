import { redact } from '../telemetry/redact.js';
import type { AuditRecord } from './types.js';

const MAX_STRING = 1024;
const MAX_RESOURCES = 64;
const ACTIONS = new Set(['read', 'write', 'admin', 'unknown']);
const KINDS = new Set(['decision', 'outcome', 'anomaly']);
const SYSTEMS = new Set(['mongodb', 'dynamodb', 'http']);

/** Bounds the length, then redacts token-, credential- and key-looking text with the shared {@link redact}. */
function redactSecrets(value: string): string {
  return redact(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? redactSecrets(v) : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * A defensive copy of an audit record: only the known fields of
 * {@link AuditRecord}, each type-checked (unknown keys — e.g. a document
 * body or a token someone attached — are dropped), strings length-bounded and
 * token-, bearer- and PEM-looking values redacted.
 */
export function sanitizeAuditRecord(record: AuditRecord): AuditRecord {
  const r = record as unknown as Record<string, unknown>;
  const kind = KINDS.has(r['kind'] as string) ? (r['kind'] as AuditRecord['kind']) : 'outcome';
  const system = SYSTEMS.has(r['system'] as string) ? (r['system'] as AuditRecord['system']) : 'http';
  const action = ACTIONS.has(r['action'] as string) ? (r['action'] as AuditRecord['action']) : 'unknown';
  const resources = Array.isArray(r['resources']) ? (r['resources'] as unknown[]).slice(0, MAX_RESOURCES).map((x) => text(x) ?? '') : undefined;
  const optional: Record<string, unknown> = {
    resources,
    ruleId: text(r['ruleId']),
    outcome: text(r['outcome']),
    durationMs: num(r['durationMs']),
    attempts: num(r['attempts']),
    traceId: typeof r['traceId'] === 'string' && /^[0-9a-f]{32}$/.test(r['traceId']) ? r['traceId'] : undefined,
    correlationId: text(r['correlationId']),
    reason: text(r['reason']),
  };
  const out: Record<string, unknown> = {
    time: text(r['time']) ?? new Date().toISOString(),
    kind,
    service: text(r['service']) ?? '',
    system,
    operation: text(r['operation']) ?? '',
    action,
    resource: text(r['resource']) ?? '',
    decision: r['decision'] === 'allow' ? 'allow' : 'deny',
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) out[k] = v;
  return out as unknown as AuditRecord;
}
