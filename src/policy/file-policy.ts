import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import { EventChannel } from '../internal/events.js';
import { parsePolicyText, type PolicyDocument } from './document.js';
import { LocalDecisionPoint, type LocalPolicyOptions, type PolicyExplanation } from './local-decision-point.js';
import type { Decision, DecisionPoint, DecisionRequest } from './types.js';

/** Options of {@link watchPolicyFile}. */
export interface FilePolicyOptions extends LocalPolicyOptions {
  /** Quiet time after the last file event before re-reading, ms. Default 100. */
  readonly debounceMs?: number;
  /** Aborts the initial load. */
  readonly signal?: AbortSignal;
}

/** What a {@link FilePolicy} reports about reloads. */
export type PolicyReloadEvent =
  | { readonly type: 'reloaded'; readonly path: string; readonly ruleCount: number }
  | { readonly type: 'reload_failed'; readonly path: string; readonly error: SecureNosqlError };

/**
 * Reads and validates a policy file (YAML or JSON).
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when the file is missing, unreadable or invalid (fail closed).
 */
export async function loadPolicyFile(path: string, options: { readonly signal?: AbortSignal } = {}): Promise<PolicyDocument> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', ...(options.signal === undefined ? {} : { signal: options.signal }) });
  } catch (cause) {
    if (options.signal?.aborted === true) throw new SecureNosqlError('ABORTED', 'Loading the policy file was aborted', { cause });
    const code = (cause as { code?: unknown }).code;
    throw new SecureNosqlError('CONFIG_INVALID', `Policy file ${path} could not be read (${typeof code === 'string' ? code : 'error'})`, {
      cause,
      remediation: 'Mount the policy file at the configured path; without a policy every operation would be denied, so startup fails.',
      details: { path },
    });
  }
  return parsePolicyText(text, `policy file ${path}`);
}

/**
 * A policy file compiled into a {@link LocalDecisionPoint} and re-read when it
 * changes (the directory is watched, so atomic renames and Kubernetes
 * `..data` swaps are seen). A bad new version keeps the last good one and
 * emits `reload_failed`. Create it with {@link watchPolicyFile}.
 */
export class FilePolicy implements DecisionPoint {
  /** Reload events. */
  readonly events = new EventChannel<PolicyReloadEvent>();
  /** The watched file (absolute). */
  readonly path: string;
  #current: LocalDecisionPoint;
  #lastText: string;
  readonly #options: FilePolicyOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #reloading: Promise<void> = Promise.resolve();

  private constructor(path: string, text: string, current: LocalDecisionPoint, options: FilePolicyOptions) {
    this.path = path;
    this.#lastText = text;
    this.#current = current;
    this.#options = options;
  }

  /** @internal use {@link watchPolicyFile}. */
  static async open(path: string, options: FilePolicyOptions = {}): Promise<FilePolicy> {
    const abs = resolve(path);
    const doc = await loadPolicyFile(abs, options.signal === undefined ? {} : { signal: options.signal });
    const text = JSON.stringify(doc);
    const policy = new FilePolicy(abs, text, new LocalDecisionPoint(doc, options), options);
    policy.#watch();
    return policy;
  }

  /** The decision point compiled from the last good version. */
  get current(): LocalDecisionPoint {
    return this.#current;
  }

  #watch(): void {
    const file = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name !== null && name !== file && !name.startsWith('..')) return;
        this.#schedule();
      });
      this.#watcher.on('error', () => {
        // the directory vanished: keep the last good policy; a later reload() can still be called
      });
    } catch {
      // watching is best effort; the policy stays as loaded
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload();
    }, this.#options.debounceMs ?? 100);
    this.#timer.unref();
  }

  /** Re-reads the file now. Never throws: a failure keeps the last good policy and emits `reload_failed`. */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      if (this.#closed) return;
      try {
        const doc = await loadPolicyFile(this.path);
        const text = JSON.stringify(doc);
        if (text === this.#lastText) return;
        const next = new LocalDecisionPoint(doc, this.#options);
        if (this.#closed) return;
        this.#current = next;
        this.#lastText = text;
        this.events.emit({ type: 'reloaded', path: this.path, ruleCount: next.ruleCount });
      } catch (cause) {
        const error = isSecureNosqlError(cause) ? cause : new SecureNosqlError('CONFIG_INVALID', `Policy file ${this.path} could not be reloaded`, { cause });
        this.#lastText = '';
        this.events.emit({ type: 'reload_failed', path: this.path, error });
      }
    });
    return this.#reloading;
  }

  /** Decides with the last good policy (synchronous). */
  decide(request: DecisionRequest): Decision {
    return this.#current.decide(request);
  }

  /** Explains with the last good policy. */
  explain(request: DecisionRequest): PolicyExplanation {
    return this.#current.explain(request);
  }

  /** Stops watching; decisions keep using the last good policy. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.events.clear();
    await this.#reloading;
  }
}

/**
 * Loads, compiles and watches a policy file.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when the file is missing or invalid at startup.
 */
export function watchPolicyFile(path: string, options: FilePolicyOptions = {}): Promise<FilePolicy> {
  return FilePolicy.open(path, options);
}
