/** Closed-loop load: `concurrency` workers call `op` back to back for `durationMs`. */
export interface RoundResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  /** Per-call latencies, ms. */
  readonly latencies: Float64Array;
}

export async function runRound(op: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<RoundResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await op();
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { ops: latencies.length, errors, seconds, opsPerSec: latencies.length / seconds, latencies: Float64Array.from(latencies) };
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return quantile(s, 0.5);
}

/** All latencies of several rounds, sorted. */
export function mergeSorted(rounds: readonly RoundResult[]): Float64Array {
  const n = rounds.reduce((sum, r) => sum + r.latencies.length, 0);
  const all = new Float64Array(n);
  let at = 0;
  for (const r of rounds) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  return all.sort();
}
