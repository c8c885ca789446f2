import { watch, type FSWatcher } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import type { CertificateLocation } from '../identity/types.js';
import { EventChannel, type Disposable, type Listener } from '../internal/events.js';
import { createGeneration } from './generation.js';
import type { CertificateEvent, CertificateGeneration, CertificateSource } from './types.js';
import { validateCertificateSet, type CertificateSet } from './validate.js';

/** Options of {@link loadCertificateSource}. */
export interface CertificateSourceOptions {
  /** When set, every generation's leaf must carry exactly this SPIFFE ID as its only URI SAN. */
  readonly serviceId?: string;
  /** Clock skew tolerated on the validity window, seconds. Default 60. */
  readonly skewSeconds?: number;
  /** Quiet time after the last directory event before re-reading, ms. Default 100. */
  readonly debounceMs?: number;
  /** Fraction of the leaf lifetime after which `expiring` is emitted. Default 0.8. */
  readonly expiringFraction?: number;
  /** Periodic re-check interval (fs.watch can miss events), ms. Default 30000; 0 disables. */
  readonly recheckIntervalMs?: number;
  /** Re-reads after a failed read before `rejected` is emitted (a writer may be mid-way). Default 2. */
  readonly settleRetries?: number;
  /** Aborts the initial load. */
  readonly signal?: AbortSignal;
}

/** File names per directory layout, in detection order. */
const LAYOUTS = [
  { name: 'cert-manager', certificate: 'tls.crt', key: 'tls.key', bundle: 'ca.crt' },
  { name: 'spiffe-helper', certificate: 'svid.pem', key: 'svid_key.pem', bundle: 'bundle.pem' },
] as const;

const MAX_TIMER_MS = 2 ** 31 - 1;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function resolvePaths(location: CertificateLocation): Promise<CertificateSet['paths']> {
  if (!('dir' in location)) return { certificate: location.certFile, key: location.keyFile, bundle: location.bundleFile };
  for (const l of LAYOUTS) {
    if (await exists(join(location.dir, l.certificate))) {
      return { certificate: join(location.dir, l.certificate), key: join(location.dir, l.key), bundle: join(location.dir, l.bundle) };
    }
  }
  throw new SecureNosqlError('CERT_INVALID', `certificate directory ${location.dir} holds neither tls.crt/tls.key/ca.crt (cert-manager) nor svid.pem/svid_key.pem/bundle.pem (spiffe-helper)`, {
    details: { path: location.dir },
    remediation: 'Mount the workload certificate Secret or the spiffe-helper output directory at this path.',
  });
}

async function readSet(location: CertificateLocation): Promise<CertificateSet> {
  const paths = await resolvePaths(location);
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new SecureNosqlError('CERT_INVALID', `${what} file ${path} could not be read (${typeof code === 'string' ? code : 'error'})`, {
        details: { path, reason: 'unreadable' },
        remediation: 'Check the file exists and is readable by this process.',
      });
    }
  };
  const [certificatePem, privateKeyPem, bundlePem] = await Promise.all([
    read(paths.certificate, 'certificate'),
    read(paths.key, 'private key'),
    read(paths.bundle, 'trust bundle'),
  ]);
  return { certificatePem, privateKeyPem, bundlePem, paths };
}

function checkOptions(o: CertificateSourceOptions): void {
  const bad = (field: string, want: string): SecureNosqlError =>
    new SecureNosqlError('CONFIG_INVALID', `certificates.${field} must be ${want}`, { details: { field: `certificates.${field}` } });
  if (o.skewSeconds !== undefined && !(o.skewSeconds >= 0 && o.skewSeconds <= 3600)) throw bad('skewSeconds', 'between 0 and 3600, e.g. 60');
  if (o.debounceMs !== undefined && !(o.debounceMs >= 0 && o.debounceMs <= 60_000)) throw bad('debounceMs', 'between 0 and 60000, e.g. 100');
  if (o.expiringFraction !== undefined && !(o.expiringFraction > 0 && o.expiringFraction < 1)) throw bad('expiringFraction', 'between 0 and 1 (exclusive), e.g. 0.8');
  if (o.recheckIntervalMs !== undefined && !(o.recheckIntervalMs === 0 || o.recheckIntervalMs >= 100)) throw bad('recheckIntervalMs', '0 (off) or at least 100, e.g. 30000');
  if (o.settleRetries !== undefined && !(Number.isInteger(o.settleRetries) && o.settleRetries >= 0 && o.settleRetries <= 10)) throw bad('settleRetries', 'an integer between 0 and 10');
}

/**
 * A {@link CertificateSource} backed by PEM files. It watches the
 * directories holding the files (the kubelet swaps a `..data` symlink; the
 * file names stay the same, so watching files would miss the swap), debounces
 * bursts, re-validates the whole set and publishes a new generation only when
 * it is consistent. A torn, deleted or invalid set keeps the last good
 * generation and emits `rejected`.
 */
export class FileCertificateSource implements CertificateSource {
  readonly #location: CertificateLocation;
  readonly #options: CertificateSourceOptions;
  readonly #events = new EventChannel<CertificateEvent>();
  #current: CertificateGeneration;
  #lastSet: CertificateSet;
  #watchers: FSWatcher[] = [];
  #debounce: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #loading = false;
  #pending = false;
  #failures = 0;
  #lastRejection: string | undefined;
  #closed = false;

  /** Use {@link loadCertificateSource}. @internal */
  constructor(location: CertificateLocation, options: CertificateSourceOptions, set: CertificateSet, first: CertificateGeneration) {
    this.#location = location;
    this.#options = options;
    this.#lastSet = set;
    this.#current = first;
    this.#watch();
    const interval = options.recheckIntervalMs ?? 30_000;
    if (interval > 0) {
      this.#recheck = setInterval(() => {
        if (this.#watchers.length === 0) this.#watch();
        void this.#reload();
      }, interval);
      this.#recheck.unref();
    }
    this.#armExpiry();
  }

  /** The current (last good) generation. */
  current(): CertificateGeneration {
    return this.#current;
  }

  /** Subscribes to `rotated`, `rejected` and `expiring` events. */
  on(listener: Listener<CertificateEvent>): Disposable {
    return this.#events.on(listener);
  }

  /** Re-reads the files now (also what a directory event triggers after the debounce). Resolves when done. */
  async refresh(): Promise<CertificateGeneration> {
    await this.#reload();
    return this.#current;
  }

  /** Stops the watchers and timers; the last generation stays readable. */
  close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearTimeout(this.#debounce);
    clearInterval(this.#recheck);
    clearTimeout(this.#expiry);
    this.#events.clear();
    return Promise.resolve();
  }

  #watch(): void {
    if (this.#closed) return;
    const dirs = 'dir' in this.#location ? [this.#location.dir] : [...new Set(Object.values(this.#lastSet.paths).map((p) => dirname(p)))];
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => {
          this.#failures = 0; // the writer is active: give the new set time to settle
          this.#schedule();
        });
        w.on('error', () => {
          // The directory went away or the watch broke: drop it; the periodic re-check re-creates it.
          w.close();
          this.#watchers = this.#watchers.filter((x) => x !== w);
          this.#schedule();
        });
        this.#watchers.push(w);
      } catch {
        // Directory missing right now: the periodic re-check retries.
      }
    }
  }

  #schedule(delay = this.#options.debounceMs ?? 100): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.#reload(), delay);
    this.#debounce.unref();
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    if (this.#loading) {
      this.#pending = true;
      return;
    }
    this.#loading = true;
    try {
      const set = await readSet(this.#location);
      if (this.#closed) return;
      if (set.certificatePem === this.#lastSet.certificatePem && set.privateKeyPem === this.#lastSet.privateKeyPem && set.bundlePem === this.#lastSet.bundlePem) {
        this.#failures = 0;
        this.#lastRejection = undefined;
        return;
      }
      const valid = validateCertificateSet(set, { serviceId: this.#options.serviceId, skewSeconds: this.#options.skewSeconds });
      const previous = this.#current;
      this.#current = createGeneration(previous.generation + 1, set, valid);
      this.#lastSet = set;
      this.#failures = 0;
      this.#lastRejection = undefined;
      this.#armExpiry();
      this.#events.emit({ type: 'rotated', previous, current: this.#current });
    } catch (error) {
      if (this.#closed) return;
      const e = isSecureNosqlError(error) ? error : new SecureNosqlError('CERT_INVALID', 'certificate files could not be loaded', { cause: error });
      // A writer may be between files: re-read a few times before reporting.
      if (this.#failures < (this.#options.settleRetries ?? 2)) {
        this.#failures++;
        this.#schedule();
        return;
      }
      const key = `${e.code}:${e.message}`;
      if (key !== this.#lastRejection) {
        this.#lastRejection = key;
        this.#events.emit({ type: 'rejected', error: e, current: this.#current });
      }
    } finally {
      this.#loading = false;
      if (this.#pending && !this.#closed) {
        this.#pending = false;
        this.#schedule();
      }
    }
  }

  #armExpiry(): void {
    clearTimeout(this.#expiry);
    if (this.#closed) return;
    const gen = this.#current;
    const start = gen.notBefore.getTime();
    const lifetime = gen.notAfter.getTime() - start;
    const at = start + lifetime * (this.#options.expiringFraction ?? 0.8);
    const delay = Math.max(0, at - Date.now());
    this.#expiry = setTimeout(() => {
      if (this.#current !== gen || this.#closed) return;
      if (Date.now() < at) {
        this.#armExpiry(); // the delay was clamped to the timer maximum
        return;
      }
      this.#events.emit({ type: 'expiring', current: gen, secondsToExpiry: Math.max(0, Math.round((gen.notAfter.getTime() - Date.now()) / 1000)) });
    }, Math.min(delay, MAX_TIMER_MS));
    this.#expiry.unref();
  }
}

/**
 * Loads, validates and starts watching the workload certificates.
 *
 * @param location - A directory (cert-manager or spiffe-helper layout, detected) or explicit files.
 * @throws SecureNosqlError `CERT_*` when the initial set is invalid, `CONFIG_INVALID` for bad options, `ABORTED` when `signal` aborts.
 */
export async function loadCertificateSource(location: CertificateLocation, options: CertificateSourceOptions = {}): Promise<FileCertificateSource> {
  checkOptions(options);
  const { signal } = options;
  const aborted = (): SecureNosqlError => new SecureNosqlError('ABORTED', 'loading the workload certificates was aborted', { cause: signal?.reason });
  const isAborted = (): boolean => signal?.aborted === true;
  const retries = options.settleRetries ?? 2;
  for (let attempt = 0; ; attempt++) {
    if (isAborted()) throw aborted();
    try {
      const set = await readSet(location);
      if (isAborted()) throw aborted();
      const valid = validateCertificateSet(set, { serviceId: options.serviceId, skewSeconds: options.skewSeconds });
      return new FileCertificateSource(location, options, set, createGeneration(1, set, valid));
    } catch (error) {
      // A writer may be between files at start-up: only a torn-looking failure is retried.
      const torn = isSecureNosqlError(error) && (error.code === 'CERT_KEY_MISMATCH' || error.details?.['reason'] === 'unreadable');
      if (!torn || attempt >= retries) throw error;
      try {
        await sleep(options.debounceMs ?? 100, undefined, signal === undefined ? undefined : { signal });
      } catch {
        throw aborted();
      }
    }
  }
}
