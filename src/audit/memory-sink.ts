import { sanitizeAuditRecord } from './sanitize.js';
import type { AuditRecord, AuditSink } from './types.js';

/** Options of {@link MemoryAuditSink}. */
export interface MemoryAuditSinkOptions {
  /** Records kept; later ones are dropped and counted. Default 100,000. */
  readonly maxRecords?: number;
}

/** An audit sink that keeps sanitised records in memory: for tests (this repository's and users'). */
export class MemoryAuditSink implements AuditSink {
  readonly #records: AuditRecord[] = [];
  readonly #max: number;
  #dropped = 0;

  constructor(options: MemoryAuditSinkOptions = {}) {
    this.#max = options.maxRecords ?? 100_000;
  }

  /** Stores a sanitised copy. Never throws. */
  write(record: AuditRecord): void {
    if (this.#records.length >= this.#max) {
      this.#dropped++;
      return;
    }
    try {
      this.#records.push(sanitizeAuditRecord(record));
    } catch {
      this.#dropped++;
    }
  }

  /** The records so far, oldest first. */
  get records(): readonly AuditRecord[] {
    return this.#records;
  }

  /** Records of one kind. */
  ofKind(kind: AuditRecord['kind']): readonly AuditRecord[] {
    return this.#records.filter((r) => r.kind === kind);
  }

  /** Records dropped because the sink was full. */
  get droppedCount(): number {
    return this.#dropped;
  }

  /** Forgets every record. */
  clear(): void {
    this.#records.length = 0;
    this.#dropped = 0;
  }

  /** Nothing to flush. */
  async close(): Promise<void> {
    // in memory
  }
}
