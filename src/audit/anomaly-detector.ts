import { EventChannel } from '../internal/events.js';
import type { Action } from '../policy/types.js';
import { sanitizeAuditRecord } from './sanitize.js';
import type { AuditRecord, AuditSink } from './types.js';

/** Options of {@link AnomalyDetector}. */
export interface AnomalyDetectorOptions {
  /** Length of one counting interval, ms. Default 10,000. */
  readonly intervalMs?: number;
  /** EWMA weight of the newest interval (0..1]. Default 0.3. */
  readonly alpha?: number;
  /** A burst is a count above `burstFactor` × baseline in the current interval. Default 5. */
  readonly burstFactor?: number;
  /** …and above this absolute floor (so 0 → 3 calls is not a burst). Default 20. */
  readonly minBurstCount?: number;
  /** Completed intervals of a (service, action, resource) before bursts are judged. Default 6. */
  readonly warmupIntervals?: number;
  /** Time after the detector starts before first-seen resources are flagged, ms. Default 300,000. */
  readonly firstSeenWarmupMs?: number;
  /** Bound of tracked keys (least recently used evicted). Default 10,000. */
  readonly maxKeys?: number;
  /** Which record kind is counted (one per operation). Default `'decision'`. */
  readonly countKind?: 'decision' | 'outcome';
  /** Where anomaly records go. */
  readonly audit?: AuditSink;
  /** Metric hook, called once per anomaly; isolated. */
  readonly onAnomaly?: (anomaly: Anomaly) => void;
  /** Clock, ms. Default `Date.now`. */
  readonly clock?: () => number;
}

/** One flagged anomaly. */
export interface Anomaly {
  /** `burst`: a call rate far above the baseline; `first_seen`: a resource this service never used before (after warm-up). */
  readonly kind: 'burst' | 'first_seen';
  readonly service: string;
  readonly action: Action | 'unknown';
  readonly resource: string;
  readonly system: AuditRecord['system'];
  /** Calls in the current interval (bursts). */
  readonly count?: number;
  /** Baseline calls per interval (bursts). */
  readonly baseline?: number;
  /** ISO-8601 time. */
  readonly time: string;
}

interface RateState {
  windowStart: number;
  count: number;
  ewma: number;
  intervals: number;
  flagged: boolean;
}

/**
 * Flags bursts and first-seen resources per (service, action, resource).
 * Call rates are counted in fixed intervals and compared to an EWMA baseline
 * of past intervals; a key is judged only after `warmupIntervals`, and
 * first-seen resources only after `firstSeenWarmupMs`. Each anomaly is an
 * event, a metric hook call and an audit record of kind `anomaly`. Feed it
 * with {@link AnomalyDetector.observe} (it is also an {@link AuditSink}).
 * Memory is bounded by LRU on keys; an evicted resource may be flagged
 * first-seen again.
 */
export class AnomalyDetector implements AuditSink {
  /** Anomaly events. */
  readonly events = new EventChannel<Anomaly>();
  readonly #rates = new Map<string, RateState>();
  readonly #seen = new Map<string, true>();
  readonly #o: Required<Omit<AnomalyDetectorOptions, 'audit' | 'onAnomaly'>>;
  readonly #audit: AuditSink | undefined;
  readonly #onAnomaly: ((a: Anomaly) => void) | undefined;
  readonly #startedAt: number;
  #closed = false;

  constructor(options: AnomalyDetectorOptions = {}) {
    this.#o = {
      intervalMs: options.intervalMs ?? 10_000,
      alpha: options.alpha ?? 0.3,
      burstFactor: options.burstFactor ?? 5,
      minBurstCount: options.minBurstCount ?? 20,
      warmupIntervals: options.warmupIntervals ?? 6,
      firstSeenWarmupMs: options.firstSeenWarmupMs ?? 300_000,
      maxKeys: options.maxKeys ?? 10_000,
      countKind: options.countKind ?? 'decision',
      clock: options.clock ?? Date.now,
    };
    this.#audit = options.audit;
    this.#onAnomaly = options.onAnomaly;
    this.#startedAt = this.#o.clock();
  }

  /** Same as {@link AnomalyDetector.observe}, so the detector can sit in a fan-out of sinks. */
  write(record: AuditRecord): void {
    this.observe(record);
  }

  /** Counts one audit record (of `countKind`; other kinds are ignored). Never throws. */
  observe(record: AuditRecord): void {
    if (this.#closed || record.kind !== this.#o.countKind) return;
    try {
      const now = this.#o.clock();
      const resources = record.resources !== undefined && record.resources.length > 0 ? record.resources : [record.resource];
      for (const resource of resources) this.#observeOne(record, resource, now);
    } catch {
      // the detector must never break the audit path
    }
  }

  #touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    if (map.size >= this.#o.maxKeys) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    map.set(key, value);
  }

  #observeOne(record: AuditRecord, resource: string, now: number): void {
    const seenKey = `${record.service}\n${resource}`;
    const known = this.#seen.has(seenKey);
    this.#touch(this.#seen, seenKey, true);
    if (!known && now - this.#startedAt >= this.#o.firstSeenWarmupMs) {
      this.#flag({ kind: 'first_seen', service: record.service, action: record.action, resource, system: record.system, time: new Date(now).toISOString() }, record);
    }

    const key = `${record.service}\n${record.action}\n${resource}`;
    const { intervalMs, alpha } = this.#o;
    let s = this.#rates.get(key);
    if (s === undefined) {
      s = { windowStart: now - (now % intervalMs), count: 0, ewma: 0, intervals: 0, flagged: false };
    } else if (now >= s.windowStart + intervalMs) {
      // Fold the finished interval, then decay for the empty ones in between.
      const elapsed = Math.floor((now - s.windowStart) / intervalMs);
      s.ewma = s.intervals === 0 ? s.count : alpha * s.count + (1 - alpha) * s.ewma;
      s.ewma *= Math.pow(1 - alpha, Math.min(elapsed - 1, 1000));
      s.intervals += elapsed;
      s.windowStart += elapsed * intervalMs;
      s.count = 0;
      s.flagged = false;
    }
    this.#touch(this.#rates, key, s);
    s.count++;
    if (!s.flagged && s.intervals >= this.#o.warmupIntervals && s.count > this.#o.minBurstCount && s.count > this.#o.burstFactor * s.ewma) {
      s.flagged = true;
      this.#flag(
        { kind: 'burst', service: record.service, action: record.action, resource, system: record.system, count: s.count, baseline: Math.round(s.ewma * 100) / 100, time: new Date(now).toISOString() },
        record,
      );
    }
  }

  #flag(anomaly: Anomaly, source: AuditRecord): void {
    this.events.emit(anomaly);
    if (this.#onAnomaly !== undefined) {
      try {
        this.#onAnomaly(anomaly);
      } catch {
        // isolated metric hook
      }
    }
    if (this.#audit !== undefined) {
      try {
        this.#audit.write(
          sanitizeAuditRecord({
            time: anomaly.time,
            kind: 'anomaly',
            service: anomaly.service,
            system: anomaly.system,
            operation: source.operation,
            action: anomaly.action,
            resource: anomaly.resource,
            decision: source.decision,
            reason: anomaly.kind,
            outcome: anomaly.kind === 'burst' ? `burst ${anomaly.count ?? 0} per ${this.#o.intervalMs} ms vs baseline ${anomaly.baseline ?? 0}` : 'first_seen',
            ...(source.traceId === undefined ? {} : { traceId: source.traceId }),
          }),
        );
      } catch {
        // a failing sink must not break observe()
      }
    }
  }

  /** Number of (service, action, resource) keys tracked. */
  get trackedKeys(): number {
    return this.#rates.size;
  }

  /** Forgets all state and listeners. */
  close(): Promise<void> {
    this.#closed = true;
    this.#rates.clear();
    this.#seen.clear();
    this.events.clear();
    return Promise.resolve();
  }
}
