import type { Writable } from 'node:stream';
import { sanitizeAuditRecord } from './sanitize.js';
import type { AuditRecord, AuditSink } from './types.js';

/** Options of {@link JsonLinesAuditSink}. */
export interface JsonLinesAuditSinkOptions {
  /** Lines held while the stream applies backpressure; more are dropped and counted. Default 10,000. */
  readonly maxBuffered?: number;
  /** Called with the number of records dropped (buffer full, stream failed or sink closed), e.g. to feed a metric. Isolated: a throw is ignored. */
  readonly onDrop?: (count: number) => void;
  /** How long `close()` waits for the buffer to drain, ms. Default 5000. */
  readonly closeTimeoutMs?: number;
  /** End the stream on `close()` (for files the sink owns; leave false for `process.stdout`). Default false. */
  readonly endOnClose?: boolean;
}

/**
 * Writes one JSON object per line (sanitised {@link AuditRecord}s) to any
 * Writable. `write()` never throws and never waits: when the stream signals
 * backpressure (`write()` returns false) lines are buffered until `'drain'`,
 * up to `maxBuffered`; beyond that, and after a stream error, records are
 * dropped and counted in {@link JsonLinesAuditSink.droppedCount}.
 */
export class JsonLinesAuditSink implements AuditSink {
  readonly #stream: Writable;
  readonly #max: number;
  readonly #onDrop: ((count: number) => void) | undefined;
  readonly #closeTimeoutMs: number;
  readonly #endOnClose: boolean;
  readonly #buffer: string[] = [];
  #waitingForDrain = false;
  #failed = false;
  #closed = false;
  #dropped = 0;
  #errors = 0;
  #written = 0;
  readonly #drainWaiters: (() => void)[] = [];

  constructor(stream: Writable, options: JsonLinesAuditSinkOptions = {}) {
    this.#stream = stream;
    this.#max = options.maxBuffered ?? 10_000;
    this.#onDrop = options.onDrop;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#endOnClose = options.endOnClose ?? false;
    stream.on('error', this.#onError);
    stream.on('drain', this.#onDrain);
    stream.on('close', this.#onClose);
    if (stream.destroyed || stream.writableEnded) this.#failed = true;
  }

  /** Records dropped so far. */
  get droppedCount(): number {
    return this.#dropped;
  }

  /** Stream errors seen (each swallowed). */
  get errorCount(): number {
    return this.#errors;
  }

  /** Lines waiting for `'drain'`. */
  get bufferedCount(): number {
    return this.#buffer.length;
  }

  /** Lines handed to the stream. */
  get writtenCount(): number {
    return this.#written;
  }

  /** Queues one record; returns at once. */
  write(record: AuditRecord): void {
    if (this.#closed || this.#failed) {
      this.#drop(1);
      return;
    }
    let line: string;
    try {
      line = `${JSON.stringify(sanitizeAuditRecord(record))}\n`;
    } catch {
      this.#drop(1);
      return;
    }
    if (this.#waitingForDrain || this.#buffer.length > 0) {
      if (this.#buffer.length >= this.#max) this.#drop(1);
      else this.#buffer.push(line);
      return;
    }
    this.#send(line);
  }

  #send(line: string): void {
    if (this.#stream.destroyed || this.#stream.writableEnded) {
      this.#drop(1);
      this.#fail();
      return;
    }
    try {
      this.#written++;
      if (!this.#stream.write(line)) this.#waitingForDrain = true;
    } catch {
      this.#fail();
    }
  }

  readonly #onDrain = (): void => {
    this.#waitingForDrain = false;
    while (this.#buffer.length > 0 && !this.#waitingForDrain && !this.#failed) {
      this.#send(this.#buffer.shift() as string);
    }
    if (this.#buffer.length === 0 && !this.#waitingForDrain) this.#wake();
  };

  readonly #onError = (): void => {
    this.#errors++;
    this.#fail();
  };

  readonly #onClose = (): void => {
    if (!this.#closed) this.#fail();
  };

  #fail(): void {
    this.#failed = true;
    if (this.#buffer.length > 0) this.#drop(this.#buffer.splice(0).length);
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  #drop(count: number): void {
    this.#dropped += count;
    if (this.#onDrop === undefined) return;
    try {
      this.#onDrop(count);
    } catch {
      // a metric hook must not break the data call
    }
  }

  /** Flushes the buffer (waiting at most `closeTimeoutMs`), drops what is left, and detaches from the stream. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if ((this.#buffer.length > 0 || this.#waitingForDrain) && !this.#failed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#closeTimeoutMs);
        timer.unref();
        this.#drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.#buffer.length > 0) this.#drop(this.#buffer.splice(0).length);
    this.#stream.off('drain', this.#onDrain);
    this.#stream.off('close', this.#onClose);
    if (this.#endOnClose && !this.#failed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#closeTimeoutMs);
        timer.unref();
        try {
          this.#stream.end(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    // keep a no-op error listener: a late stream error must not become an uncaught exception
    this.#stream.off('error', this.#onError);
    this.#stream.on('error', noop);
  }
}

function noop(): void {
  // swallow late stream errors
}
