import { isIP } from 'node:net';
import type { MongoClientOptions } from 'mongodb';
import type { ServerVerification } from '../../certificates/types.js';
import { SecureNosqlError } from '../../errors/index.js';

/**
 * The MongoClient options a caller may set. Everything about TLS,
 * authentication and proxies is owned by secure-nosql and refused here.
 */
export type SafeMongoDriverOptions = Pick<
  MongoClientOptions,
  | 'appName'
  | 'maxPoolSize'
  | 'minPoolSize'
  | 'maxConnecting'
  | 'maxIdleTimeMS'
  | 'waitQueueTimeoutMS'
  | 'connectTimeoutMS'
  | 'socketTimeoutMS'
  | 'serverSelectionTimeoutMS'
  | 'heartbeatFrequencyMS'
  | 'localThresholdMS'
  | 'timeoutMS'
  | 'retryReads'
  | 'retryWrites'
  | 'readPreference'
  | 'readConcern'
  | 'readConcernLevel'
  | 'writeConcern'
  | 'w'
  | 'journal'
  | 'wtimeoutMS'
  | 'directConnection'
  | 'replicaSet'
  | 'loadBalanced'
  | 'compressors'
  | 'zlibCompressionLevel'
  | 'serverApi'
  | 'ignoreUndefined'
  | 'promoteValues'
  | 'promoteLongs'
  | 'promoteBuffers'
  | 'bsonRegExp'
  | 'enableUtf8Validation'
  | 'family'
  | 'autoSelectFamily'
  | 'srvMaxHosts'
  | 'srvServiceName'
>;

const SAFE_KEYS: ReadonlySet<string> = new Set([
  'appName', 'maxPoolSize', 'minPoolSize', 'maxConnecting', 'maxIdleTimeMS', 'waitQueueTimeoutMS', 'connectTimeoutMS', 'socketTimeoutMS',
  'serverSelectionTimeoutMS', 'heartbeatFrequencyMS', 'localThresholdMS', 'timeoutMS', 'retryReads', 'retryWrites', 'readPreference', 'readConcern',
  'readConcernLevel', 'writeConcern', 'w', 'journal', 'wtimeoutMS', 'directConnection', 'replicaSet', 'loadBalanced', 'compressors',
  'zlibCompressionLevel', 'serverApi', 'ignoreUndefined', 'promoteValues', 'promoteLongs', 'promoteBuffers', 'bsonRegExp', 'enableUtf8Validation',
  'family', 'autoSelectFamily', 'srvMaxHosts', 'srvServiceName',
]);

/** URI query options that would weaken TLS or replace the library's authentication; compared lower-cased. */
const REFUSED_URI_OPTIONS: ReadonlySet<string> = new Set([
  'tls', 'ssl', 'tlsinsecure', 'tlsallowinvalidcertificates', 'tlsallowinvalidhostnames', 'tlsdisableocspendpointcheck', 'tlsdisablecertificaterevocationcheck',
  'tlscafile', 'tlscertificatekeyfile', 'tlscertificatekeyfilepassword', 'authmechanism', 'authmechanismproperties', 'authsource',
  'proxyhost', 'proxyport', 'proxyusername', 'proxypassword',
]);

/** Options of {@link createMongoClient}. */
export interface SecureMongoOptions {
  /** `mongodb://host[:port][,host2...]/[db][?options]` or `mongodb+srv://...`, without credentials or TLS/auth options. */
  readonly uri: string;
  /** Token audience for MONGODB-OIDC (required with `auth: 'oidc'`). */
  readonly audience?: string;
  /** `oidc` (default when an audience is given) or `x509` (the workload certificate's subject is the user). */
  readonly auth?: 'oidc' | 'x509';
  /** Hosts the driver may send OIDC tokens to. Default: the URI's hosts (plus `*.<domain>` for `mongodb+srv`). */
  readonly allowedHosts?: readonly string[];
  /** Default database for {@link SecureMongoClient.db} without a name. Default: the URI's path, else `test`. */
  readonly dbName?: string;
  /** How the server is verified (SPIFFE ID or pins); verification against the bundle is always on. */
  readonly verification?: ServerVerification;
  /** A safe subset of MongoClientOptions (pool, timeouts, read/write concerns). TLS and auth options are refused. */
  readonly driverOptions?: SafeMongoDriverOptions;
  /** After a certificate rotation, how long the previous client may drain in-flight operations before it is closed, ms. Default 30,000. */
  readonly drainTimeoutMs?: number;
  /** Aborts the initial connect. */
  readonly signal?: AbortSignal;
}

/** One host of a connection string. */
export interface MongoHost {
  readonly host: string;
  readonly port: number;
}

/** What the adapter needs from a connection string. @internal */
export interface ParsedMongoUri {
  readonly srv: boolean;
  readonly hosts: readonly MongoHost[];
  readonly dbName: string | undefined;
  /** `mongodb://host:port,...`: breaker and budget key, no credentials or options. */
  readonly target: string;
}

function invalid(message: string): SecureNosqlError {
  return new SecureNosqlError('CONFIG_INVALID', `secure-nosql mongodb: ${message}`);
}

/** Parses and checks a MongoDB connection string without echoing secrets. @internal */
export function parseMongoUri(uri: unknown): ParsedMongoUri {
  if (typeof uri !== 'string' || uri === '') throw invalid('uri must be a connection string such as mongodb://orders-db:27017/orders.');
  const match = /^(mongodb(?:\+srv)?):\/\/([^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (match === null) throw invalid('uri must start with mongodb:// or mongodb+srv:// followed by host[:port], e.g. mongodb://orders-db:27017/orders.');
  const srv = match[1] === 'mongodb+srv';
  const authority = match[2] ?? '';
  if (authority.includes('@')) {
    throw invalid('uri must not contain credentials (user:password@); secure-nosql authenticates with the workload identity (MONGODB-OIDC or MONGODB-X509).');
  }
  const hosts: MongoHost[] = [];
  for (const part of authority.split(',')) {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(part);
    if (m === null || m[1] === undefined) throw invalid('uri has an invalid host list; use host[:port][,host[:port]...].');
    const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
    const port = m[2] === undefined ? 27017 : Number(m[2]);
    if (port < 1 || port > 65535) throw invalid('uri has a port outside 1-65535.');
    hosts.push({ host: host.toLowerCase(), port });
  }
  if (srv && (hosts.length !== 1 || authority.includes(':'))) throw invalid('a mongodb+srv uri takes exactly one host name and no port.');
  const params = new URLSearchParams((match[4] ?? '').slice(1));
  for (const key of params.keys()) {
    if (REFUSED_URI_OPTIONS.has(key.toLowerCase())) {
      throw invalid(`uri option "${key}" is managed by secure-nosql (TLS is always on and verified; authentication uses the workload identity). Remove it from the uri.`);
    }
  }
  const path = decodeURIComponent((match[3] ?? '').slice(1));
  const target = `${srv ? 'mongodb+srv' : 'mongodb'}://${hosts.map((h) => (srv ? h.host : `${isIP(h.host) === 6 ? `[${h.host}]` : h.host}:${h.port}`)).join(',')}`;
  return { srv, hosts, dbName: path === '' ? undefined : path, target };
}

/** Checks `driverOptions` against the safe list. @internal */
export function checkDriverOptions(options: unknown): SafeMongoDriverOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw invalid('driverOptions must be an object of MongoClient options.');
  for (const key of Object.keys(options)) {
    if (!SAFE_KEYS.has(key)) {
      const why = /tls|ssl|cert|key|ca$|crl|pfx|passphrase|secureContext|checkServerIdentity|rejectUnauthorized|auth|proxy|credentials/i.test(key)
        ? 'TLS and authentication are configured by secure-nosql from the workload identity and cannot be overridden'
        : 'it is not in the supported subset';
      throw invalid(`driverOptions.${key} is not accepted: ${why}. Supported: ${[...SAFE_KEYS].join(', ')}.`);
    }
  }
  return options;
}

/** Default OIDC ALLOWED_HOSTS for a parsed uri. @internal */
export function defaultAllowedHosts(parsed: ParsedMongoUri): string[] {
  const hosts = parsed.hosts.map((h) => h.host);
  if (parsed.srv) {
    const parts = (hosts[0] ?? '').split('.');
    if (parts.length > 2) hosts.push(`*.${parts.slice(1).join('.')}`);
  }
  return hosts;
}
