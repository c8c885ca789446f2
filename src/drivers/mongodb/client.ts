import type { Document, MongoClient, MongoClientOptions } from 'mongodb';
import type { CertificateGeneration } from '../../certificates/types.js';
import { tlsConnectOptions } from '../../certificates/tls.js';
import { isSecureNosqlError, SecureNosqlError, type ErrorCode } from '../../errors/index.js';
import { EventChannel, type Disposable, type Listener } from '../../internal/events.js';
import type { FailureClass } from '../../resilience/types.js';
import type { DriverContext } from '../types.js';
import { createMongoClassifier, findVerificationError } from './classify.js';
import { RotatingMongoClient } from './client-rotation.js';
import { createGuardedCollection, type GuardedCollection } from './collection.js';
import { finalOnStale, type MongoCore } from './core.js';
import { loadMongoDriver, type ModuleImporter } from './load-driver.js';
import { OidcCallbackBridge } from './oidc-callback.js';
import { checkDriverOptions, defaultAllowedHosts, parseMongoUri, type SecureMongoOptions } from './options.js';

/** A database handle of a {@link SecureMongoClient}: only guarded collections. */
export interface GuardedDb {
  /** The database name. */
  readonly databaseName: string;
  /** A guarded collection of this database. */
  collection<TSchema extends Document = Document>(name: string): GuardedCollection<TSchema>;
}

/** Events of a {@link SecureMongoClient}. */
export type SecureMongoEvent =
  | {
      /** New operations now run on a MongoClient built for certificate generation `generation`. */
      readonly type: 'client-swapped';
      readonly generation: number;
    }
  | {
      /** Pre-connecting the client for a new certificate failed; it was swapped in anyway and connects on the next operation. */
      readonly type: 'rotation-error';
      readonly error: SecureNosqlError;
    };

/**
 * A MongoDB client that authenticates as the workload (MONGODB-OIDC with
 * tokens from the shared cache, or MONGODB-X509 with the workload
 * certificate), always over verified TLS from the certificate source, and
 * guards every operation. Close it with {@link SecureMongoClient.close}.
 */
export interface SecureMongoClient {
  /** A database handle; without a name, the `dbName` option, the URI's database, or `test`. */
  db(name?: string): GuardedDb;
  /** A guarded collection (`db`, `collection`). */
  collection<TSchema extends Document = Document>(db: string, name: string): GuardedCollection<TSchema>;
  /** The certificate generation new operations use. */
  readonly certificateGeneration: number;
  /** Retired clients (previous certificate generations) still draining. */
  readonly drainingClients: number;
  /** Counters: client swaps, OIDC callbacks, forced token refreshes. */
  stats(): SecureMongoStats;
  /** Subscribes to client swaps and rotation errors. */
  on(listener: Listener<SecureMongoEvent>): Disposable;
  /** Waits (bounded by `drainTimeoutMs`) for in-flight operations, then closes every MongoClient. */
  close(): Promise<void>;
}

/** Counters of a {@link SecureMongoClient}, for health checks and tests. */
export interface SecureMongoStats {
  /** Certificate generation new operations use. */
  readonly certificateGeneration: number;
  /** MongoClient swaps after certificate rotations. */
  readonly clientSwaps: number;
  /** Retired clients still draining. */
  readonly drainingClients: number;
  /** OIDC_CALLBACK invocations by the driver (0 with X.509): a rise means re-authentications without a usable driver-side token. */
  readonly oidcCallbacks: number;
  /** Callbacks that fetched a fresh token because the previous one was rejected (18/391). */
  readonly forcedTokenRefreshes: number;
}

/** Internal knobs for tests. @internal */
export interface CreateMongoClientInternals {
  readonly importer?: ModuleImporter;
}

const CLASS_CODES: Readonly<Record<FailureClass, ErrorCode>> = {
  stale_credential: 'AUTH_REJECTED',
  auth_rejected: 'AUTH_REJECTED',
  access_denied: 'ACCESS_DENIED',
  transient: 'UPSTREAM_UNAVAILABLE',
  permanent: 'UPSTREAM_ERROR',
};

class SecureMongoClientImpl implements SecureMongoClient {
  readonly #core: MongoCore;
  readonly #defaultDb: string;
  readonly #collections = new Map<string, GuardedCollection>();
  readonly #events: EventChannel<SecureMongoEvent>;
  readonly #bridge: OidcCallbackBridge | undefined;
  #closed = false;

  constructor(core: MongoCore, defaultDb: string, events: EventChannel<SecureMongoEvent>, bridge: OidcCallbackBridge | undefined) {
    this.#core = core;
    this.#defaultDb = defaultDb;
    this.#events = events;
    this.#bridge = bridge;
  }

  stats(): SecureMongoStats {
    const rotation = this.#core.rotation;
    return {
      certificateGeneration: rotation.generation,
      clientSwaps: rotation.swaps,
      drainingClients: rotation.draining,
      oidcCallbacks: this.#bridge?.calls ?? 0,
      forcedTokenRefreshes: this.#bridge?.forcedRefreshes ?? 0,
    };
  }

  db(name: string = this.#defaultDb): GuardedDb {
    checkName(name, 'database');
    return { databaseName: name, collection: <T extends Document = Document>(coll: string) => this.collection<T>(name, coll) };
  }

  collection<TSchema extends Document = Document>(db: string, name: string): GuardedCollection<TSchema> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'secure-nosql mongodb: the client was closed; create a new one.');
    checkName(db, 'database');
    checkName(name, 'collection');
    const key = `${db}\u0000${name}`;
    let c = this.#collections.get(key);
    if (c === undefined) {
      c = createGuardedCollection<Document>(this.#core, db, name, (d, n) => this.collection(d, n));
      this.#collections.set(key, c);
    }
    return c as unknown as GuardedCollection<TSchema>;
  }

  get certificateGeneration(): number {
    return this.#core.rotation.generation;
  }

  get drainingClients(): number {
    return this.#core.rotation.draining;
  }

  on(listener: Listener<SecureMongoEvent>): Disposable {
    return this.#events.on(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#core.rotation.close();
    this.#events.clear();
  }
}

function checkName(name: unknown, what: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\u0000') || (what === 'database' && /[/\\. "$]/.test(name))) {
    throw new SecureNosqlError('CONFIG_INVALID', `secure-nosql mongodb: invalid ${what} name; use a non-empty name without NUL${what === 'database' ? ', /, \\, ., space, " or $' : ''}.`);
  }
}

function toConnectError(error: unknown, classify: (e: unknown) => { class: FailureClass; reason: string }, target: string): SecureNosqlError {
  if (isSecureNosqlError(error)) return error;
  const verification = findVerificationError(error);
  if (verification !== undefined) return verification;
  const c = classify(error);
  return new SecureNosqlError(CLASS_CODES[c.class], `secure-nosql mongodb: connecting to ${target} failed (${c.reason}).`, { cause: error, details: { target, reason: c.reason } });
}

/**
 * Creates a guarded MongoDB client for the workload identity in `ctx`.
 *
 * TLS always comes from `ctx.certificates` (verified against the bundle;
 * `verification` adds SPIFFE-ID or pin checks). With `auth: 'oidc'` the
 * driver's `OIDC_CALLBACK` is served by `ctx.tokens` for `audience`; with
 * `auth: 'x509'` the server maps the client certificate to a user. On each
 * certificate rotation a new MongoClient is built and swapped in, and the
 * previous one drains: the driver freezes TLS options per client, so a new
 * client is the only way to make new connections present a new certificate.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for a bad uri/options (credentials in the uri, TLS or auth overrides),
 *   `DEPENDENCY_MISSING` when the `mongodb` package is not installed, and
 *   `AUTH_REJECTED` / `ACCESS_DENIED` / `UPSTREAM_UNAVAILABLE` / `UPSTREAM_ERROR` when the first connect fails.
 */
export function createMongoClient(ctx: DriverContext, options: SecureMongoOptions): Promise<SecureMongoClient> {
  return createMongoClientWith(ctx, options, {});
}

/** {@link createMongoClient} with test hooks. @internal */
export async function createMongoClientWith(ctx: DriverContext, options: SecureMongoOptions, internals: CreateMongoClientInternals): Promise<SecureMongoClient> {
  if (options === null || typeof options !== 'object') throw new SecureNosqlError('CONFIG_INVALID', 'secure-nosql mongodb: options must be an object such as { uri, audience }.');
  const parsed = parseMongoUri(options.uri);
  const driverOptions = checkDriverOptions(options.driverOptions);
  const auth = options.auth ?? (options.audience === undefined ? 'x509' : 'oidc');
  if (auth !== 'oidc' && auth !== 'x509') throw new SecureNosqlError('CONFIG_INVALID', "secure-nosql mongodb: auth must be 'oidc' or 'x509'.");
  if (auth === 'oidc' && (typeof options.audience !== 'string' || options.audience === '')) {
    throw new SecureNosqlError('CONFIG_INVALID', "secure-nosql mongodb: auth 'oidc' needs an audience, the token audience the MongoDB deployment accepts (e.g. audience: 'orders-db').");
  }
  const allowedHosts = options.allowedHosts === undefined ? defaultAllowedHosts(parsed) : [...options.allowedHosts];
  if (!allowedHosts.every((h) => typeof h === 'string' && h !== '')) throw new SecureNosqlError('CONFIG_INVALID', 'secure-nosql mongodb: allowedHosts must be non-empty host names or *.domain patterns.');
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) throw new SecureNosqlError('CONFIG_INVALID', 'secure-nosql mongodb: drainTimeoutMs must be a non-negative number of milliseconds.');
  // Validates serverId/pins up front; the per-generation secure context is filled in below.
  const tls = tlsConnectOptions(ctx.certificates, options.verification ?? {});
  options.signal?.throwIfAborted();

  const driver = await loadMongoDriver(internals.importer);
  const bridge = auth === 'oidc' ? new OidcCallbackBridge(ctx.tokens, options.audience as string) : undefined;
  const classify = createMongoClassifier(bridge);
  const authOptions: MongoClientOptions =
    bridge === undefined
      ? { authMechanism: 'MONGODB-X509', authSource: '$external' }
      : { authMechanism: 'MONGODB-OIDC', authSource: '$external', authMechanismProperties: { OIDC_CALLBACK: bridge.callback, ALLOWED_HOSTS: allowedHosts } };
  const build = (generation: CertificateGeneration): MongoClient =>
    new driver.MongoClient(options.uri, {
      ...driverOptions,
      ...authOptions,
      tls: true,
      secureContext: generation.secureContext,
      rejectUnauthorized: true,
      ...(tls.checkServerIdentity === undefined ? {} : { checkServerIdentity: tls.checkServerIdentity }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    });

  const events = new EventChannel<SecureMongoEvent>();
  let rotation: RotatingMongoClient;
  try {
    rotation = new RotatingMongoClient({
      certificates: ctx.certificates,
      build,
      drainTimeoutMs,
      onSwap: (generation) => {
        events.emit({ type: 'client-swapped', generation });
      },
      onRotationError: (error) => {
        events.emit({ type: 'rotation-error', error: toConnectError(error, classify, parsed.target) });
      },
    });
  } catch (error) {
    throw new SecureNosqlError('CONFIG_INVALID', `secure-nosql mongodb: the driver refused the client options for ${parsed.target}.`, { cause: error, details: { target: parsed.target } });
  }
  // The first connect authenticates. A cached token rejected there (revoked before its expiry) gets the
  // same treatment as in the guard: it is invalidated and the connect is tried once more with a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      await rotation.connect(options.signal);
      break;
    } catch (error) {
      const stale = attempt === 1 && options.signal?.aborted !== true && classify(error).class === 'stale_credential';
      if (stale) continue;
      await rotation.close();
      if (options.signal?.aborted === true) throw new SecureNosqlError('ABORTED', `secure-nosql mongodb: connecting to ${parsed.target} was aborted.`, { cause: error });
      throw toConnectError(error, classify, parsed.target);
    }
  }
  const core: MongoCore = {
    guard: ctx.guard,
    rotation,
    classify,
    classifyGetMore: finalOnStale(classify),
    target: parsed.target,
    server: parsed.srv ? undefined : parsed.hosts[0],
    audience: bridge === undefined ? undefined : options.audience,
  };
  return new SecureMongoClientImpl(core, options.dbName ?? parsed.dbName ?? 'test', events, bridge);
}
