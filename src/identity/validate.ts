import { isIP } from 'node:net';
import { SecureNosqlError } from '../errors/index.js';
import { parseSpiffeId } from './spiffe-id.js';
import type { CertificateLocation, ClientAuthConfig, ServiceIdentityConfig, TokenConfig } from './types.js';

type Obj = Record<string, unknown>;

function fail(field: string, message: string): SecureNosqlError {
  return new SecureNosqlError('CONFIG_INVALID', `${field} ${message}`, { details: { field } });
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, field: string, example: string): Obj {
  if (!isObject(v)) throw fail(field, `must be an object, e.g. ${example}`);
  return v;
}

function onlyKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (key === 'rejectUnauthorized') {
      throw fail(`${field}.${key}`, 'is not accepted: secure-nosql always verifies peers. Trust a private CA through the certificate bundle instead.');
    }
    if (!allowed.includes(key)) throw fail(`${field}.${key}`, `is not a known field; allowed fields are ${allowed.join(', ')}`);
  }
}

function nonEmptyString(v: unknown, field: string, example: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw fail(field, `must be a non-empty string, e.g. ${example}`);
  return v;
}

function optionalString(v: unknown, field: string, example: string): string | undefined {
  return v === undefined ? undefined : nonEmptyString(v, field, example);
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function validateIssuer(v: unknown, field: string, allowInsecureLoopback: boolean): string {
  const text = nonEmptyString(v, field, 'https://issuer.internal');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(field, 'must be an absolute URL, e.g. https://issuer.internal');
  }
  if (url.protocol === 'http:') {
    if (!allowInsecureLoopback) throw fail(field, 'must use https, e.g. https://issuer.internal (http is only allowed for a loopback issuer with tokens.allowInsecureLoopback: true)');
    if (!isLoopbackHost(url.hostname)) throw fail(field, 'may use http only for a loopback host (127.0.0.1, ::1, localhost); use https, e.g. https://issuer.internal');
  } else if (url.protocol !== 'https:') {
    throw fail(field, 'must use https, e.g. https://issuer.internal');
  }
  if (url.username !== '' || url.password !== '') throw fail(field, 'must not contain credentials; e.g. https://issuer.internal');
  if (url.search !== '' || url.hash !== '') throw fail(field, 'must not contain a query or fragment (RFC 8414), e.g. https://issuer.internal/realms/prod');
  return text;
}

function validateCertificates(v: unknown, field: string): CertificateLocation {
  const o = object(v, field, "{ dir: '/var/run/secrets/workload' } or { certFile, keyFile, bundleFile }");
  onlyKeys(o, field, ['dir', 'certFile', 'keyFile', 'bundleFile']);
  const hasFiles = o['certFile'] !== undefined || o['keyFile'] !== undefined || o['bundleFile'] !== undefined;
  if (o['dir'] !== undefined) {
    if (hasFiles) throw fail(field, 'must set either dir or certFile/keyFile/bundleFile, not both');
    return Object.freeze({ dir: nonEmptyString(o['dir'], `${field}.dir`, "'/var/run/secrets/workload'") });
  }
  if (!hasFiles) throw fail(field, "must set dir (e.g. '/var/run/secrets/workload') or certFile, keyFile and bundleFile");
  return Object.freeze({
    certFile: nonEmptyString(o['certFile'], `${field}.certFile`, "'/var/run/secrets/workload/tls.crt'"),
    keyFile: nonEmptyString(o['keyFile'], `${field}.keyFile`, "'/var/run/secrets/workload/tls.key'"),
    bundleFile: nonEmptyString(o['bundleFile'], `${field}.bundleFile`, "'/var/run/secrets/workload/ca.crt'"),
  });
}

function validateClientAuth(v: unknown, field: string): ClientAuthConfig {
  const o = object(v, field, "{ method: 'tls_client_auth' }");
  const method = o['method'];
  const clientId = optionalString(o['clientId'], `${field}.clientId`, "'spiffe://prod.example/ns/orders/sa/orders-api'");
  const withId = clientId === undefined ? {} : { clientId };
  switch (method) {
    case 'tls_client_auth':
      onlyKeys(o, field, ['method', 'clientId']);
      return Object.freeze({ method, ...withId });
    case 'private_key_jwt': {
      onlyKeys(o, field, ['method', 'clientId', 'keyFile', 'algorithm', 'keyId']);
      const keyFile = optionalString(o['keyFile'], `${field}.keyFile`, "'/var/run/secrets/client/key.pem'");
      const algorithm = optionalString(o['algorithm'], `${field}.algorithm`, "'ES256'");
      if (algorithm !== undefined && (/^HS/i.test(algorithm) || algorithm.toLowerCase() === 'none')) {
        throw fail(`${field}.algorithm`, 'must be an asymmetric JWS algorithm such as ES256, RS256, PS256 or EdDSA (HS* and none are not allowed)');
      }
      const keyId = optionalString(o['keyId'], `${field}.keyId`, "'key-1'");
      return Object.freeze({
        method,
        ...withId,
        ...(keyFile === undefined ? {} : { keyFile }),
        ...(algorithm === undefined ? {} : { algorithm }),
        ...(keyId === undefined ? {} : { keyId }),
      });
    }
    case 'token_exchange': {
      onlyKeys(o, field, ['method', 'clientId', 'subjectTokenFile', 'subjectTokenType']);
      const subjectTokenFile = nonEmptyString(o['subjectTokenFile'], `${field}.subjectTokenFile`, "'/var/run/secrets/tokens/issuer'");
      const subjectTokenType = optionalString(o['subjectTokenType'], `${field}.subjectTokenType`, "'urn:ietf:params:oauth:token-type:jwt'");
      return Object.freeze({ method, subjectTokenFile, ...withId, ...(subjectTokenType === undefined ? {} : { subjectTokenType }) });
    }
    default:
      throw fail(`${field}.method`, "must be one of 'tls_client_auth', 'private_key_jwt', 'token_exchange'");
  }
}

function validateTokens(v: unknown, field: string): TokenConfig {
  const o = object(v, field, "{ issuer: 'https://issuer.internal', clientAuth: { method: 'tls_client_auth' } }");
  onlyKeys(o, field, ['issuer', 'clientAuth', 'files', 'audienceParameter', 'allowInsecureLoopback', 'refreshAt']);
  const allow = o['allowInsecureLoopback'];
  if (allow !== undefined && typeof allow !== 'boolean') throw fail(`${field}.allowInsecureLoopback`, 'must be true or false');
  const issuer = o['issuer'] === undefined ? undefined : validateIssuer(o['issuer'], `${field}.issuer`, allow === true);
  const clientAuth = o['clientAuth'] === undefined ? undefined : validateClientAuth(o['clientAuth'], `${field}.clientAuth`);
  if (clientAuth !== undefined && issuer === undefined) throw fail(`${field}.issuer`, 'is required when clientAuth is set, e.g. https://issuer.internal');
  let files: Readonly<Record<string, string>> | undefined;
  if (o['files'] !== undefined) {
    const f = object(o['files'], `${field}.files`, "{ 'orders-db': '/var/run/secrets/tokens/orders-db' }");
    const out: Record<string, string> = {};
    for (const [audience, path] of Object.entries(f)) {
      if (audience.trim() === '') throw fail(`${field}.files`, "has an empty audience key; use e.g. { 'orders-db': '/var/run/secrets/tokens/orders-db' }");
      out[audience] = nonEmptyString(path, `${field}.files.${audience}`, "'/var/run/secrets/tokens/orders-db'");
    }
    files = Object.freeze(out);
  }
  const ap = o['audienceParameter'];
  if (ap !== undefined && ap !== 'resource' && ap !== 'audience' && ap !== 'both') {
    throw fail(`${field}.audienceParameter`, "must be 'resource', 'audience' or 'both'");
  }
  const refreshAt = o['refreshAt'];
  if (refreshAt !== undefined && (typeof refreshAt !== 'number' || !Number.isFinite(refreshAt) || refreshAt <= 0 || refreshAt >= 1)) {
    throw fail(`${field}.refreshAt`, 'must be a fraction of the token lifetime between 0 and 1 (exclusive), e.g. 0.8');
  }
  if (issuer === undefined && files === undefined) throw fail(field, "must set issuer (e.g. 'https://issuer.internal') or files");
  return Object.freeze({
    ...(issuer === undefined ? {} : { issuer }),
    ...(clientAuth === undefined ? {} : { clientAuth }),
    ...(files === undefined ? {} : { files }),
    ...(ap === undefined ? {} : { audienceParameter: ap }),
    ...(allow === undefined ? {} : { allowInsecureLoopback: allow }),
    ...(refreshAt === undefined ? {} : { refreshAt }),
  });
}

/**
 * Validates a {@link ServiceIdentityConfig} from untrusted input (parsed
 * JSON/YAML, environment) and returns a frozen copy. Unknown fields are
 * rejected so a typo never silently disables a check, and
 * `rejectUnauthorized` is refused wherever it appears.
 *
 * @param input - The candidate configuration.
 * @param field - Prefix for field paths in messages (default `identity`).
 * @throws SecureNosqlError `CONFIG_INVALID` naming the field path (e.g.
 * `identity.tokens.issuer`) and showing a valid value.
 */
export function validateIdentityConfig(input: unknown, field = 'identity'): ServiceIdentityConfig {
  const o = object(input, field, "{ serviceId: 'spiffe://prod.example/ns/orders/sa/orders-api', certificates: { dir: '/var/run/secrets/workload' } }");
  onlyKeys(o, field, ['serviceId', 'certificates', 'tokens', 'environment']);
  const id = parseSpiffeId(o['serviceId'], `${field}.serviceId`);
  if (id.segments.length === 0) {
    throw fail(`${field}.serviceId`, 'must name a workload, not only a trust domain, e.g. spiffe://prod.example/ns/orders/sa/orders-api');
  }
  if (o['certificates'] === undefined) throw fail(`${field}.certificates`, "is required, e.g. { dir: '/var/run/secrets/workload' }");
  const certificates = validateCertificates(o['certificates'], `${field}.certificates`);
  const tokens = o['tokens'] === undefined ? undefined : validateTokens(o['tokens'], `${field}.tokens`);
  const env = o['environment'];
  if (env !== undefined && (typeof env !== 'string' || !/^[A-Za-z0-9._-]{1,63}$/.test(env))) {
    throw fail(`${field}.environment`, "must be a short label of letters, digits, '.', '-' or '_', e.g. 'prod'");
  }
  return Object.freeze({
    serviceId: id.toString(),
    certificates,
    ...(tokens === undefined ? {} : { tokens }),
    ...(env === undefined ? {} : { environment: env }),
  });
}
