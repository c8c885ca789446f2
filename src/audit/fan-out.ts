import type { AuditRecord, AuditSink } from './types.js';

/** An audit sink writing every record to each of `sinks`; one throwing sink never affects the others or the caller. */
export function fanOutAuditSink(...sinks: readonly AuditSink[]): AuditSink & { close(): Promise<void> } {
  return {
    write(record: AuditRecord): void {
      for (const sink of sinks) {
        try {
          sink.write(record);
        } catch {
          // a sink must not fail the data call
        }
      }
    },
    async close(): Promise<void> {
      await Promise.allSettled(sinks.map(async (s) => s.close?.()));
    },
  };
}
