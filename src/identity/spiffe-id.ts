import { SecureNosqlError } from '../errors/index.js';

/** A parsed SPIFFE ID (`spiffe://<trust domain><path>`). */
export interface SpiffeId {
  /** Trust domain name, e.g. `prod.example`. */
  readonly trustDomain: string;
  /** Path including the leading `/`, or `''` for a trust-domain ID. */
  readonly path: string;
  /** Path segments, e.g. `['ns', 'orders', 'sa', 'orders-api']`. */
  readonly segments: readonly string[];
  /** The canonical string form. */
  toString(): string;
}

const PREFIX = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;
const EXAMPLE = 'spiffe://prod.example/ns/orders/sa/orders-api';

function invalid(field: string, value: string, reason: string): SecureNosqlError {
  const shown = value.length > 120 ? `${value.slice(0, 120)}…` : value;
  return new SecureNosqlError('CONFIG_INVALID', `${field} is not a valid SPIFFE ID (${JSON.stringify(shown)}): ${reason}. Example of a valid value: ${EXAMPLE}`, {
    details: { field },
  });
}

function checkTrustDomain(field: string, value: string, td: string): void {
  if (td.length === 0) throw invalid(field, value, 'the trust domain is empty');
  if (td.length > MAX_TRUST_DOMAIN) throw invalid(field, value, `the trust domain is longer than ${MAX_TRUST_DOMAIN} characters`);
  if (td.includes('@')) throw invalid(field, value, 'user info (`user@`) is not allowed');
  if (td.includes(':')) throw invalid(field, value, 'a port is not allowed in the trust domain');
  if (/[A-Z]/.test(td)) throw invalid(field, value, 'the trust domain must be lower case');
  if (!TRUST_DOMAIN_CHARS.test(td)) throw invalid(field, value, 'the trust domain may only contain a-z, 0-9, ".", "-" and "_"');
}

/**
 * Parses a SPIFFE ID per the SPIFFE ID specification: lower-case `spiffe`
 * scheme, a lower-case trust domain of `[a-z0-9._-]` (≤ 255 characters), no
 * user info, port, query or fragment, path segments of `[A-Za-z0-9._-]`
 * without empty, `.` or `..` segments and without a trailing slash, at most
 * 2048 bytes in total.
 *
 * @param value - The candidate ID.
 * @param field - The configuration field named in the error (default `serviceId`).
 * @throws SecureNosqlError `CONFIG_INVALID` naming `field` and showing a valid example.
 */
export function parseSpiffeId(value: unknown, field = 'serviceId'): SpiffeId {
  if (typeof value !== 'string') throw new SecureNosqlError('CONFIG_INVALID', `${field} must be a string SPIFFE ID such as ${EXAMPLE}`, { details: { field } });
  if (value.length === 0) throw invalid(field, value, 'it is empty');
  if (Buffer.byteLength(value, 'utf8') > MAX_ID_BYTES) throw invalid(field, value, `it is longer than ${MAX_ID_BYTES} bytes`);
  if (!value.startsWith(PREFIX)) {
    if (value.toLowerCase().startsWith(PREFIX)) throw invalid(field, value, 'the scheme must be lower-case "spiffe"');
    throw invalid(field, value, 'it must start with "spiffe://"');
  }
  if (value.includes('?')) throw invalid(field, value, 'a query is not allowed');
  if (value.includes('#')) throw invalid(field, value, 'a fragment is not allowed');
  if (value.includes('%')) throw invalid(field, value, 'percent-encoded characters are not allowed');
  const rest = value.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  checkTrustDomain(field, value, trustDomain);
  const segments = parsePath(field, value, path);
  const text = `${PREFIX}${trustDomain}${path}`;
  return Object.freeze({ trustDomain, path, segments: Object.freeze(segments), toString: () => text });
}

function parsePath(field: string, value: string, path: string): string[] {
  if (path === '') return [];
  if (path.endsWith('/')) throw invalid(field, value, 'a trailing "/" is not allowed');
  const segments = path.slice(1).split('/');
  for (const s of segments) {
    if (s === '') throw invalid(field, value, 'empty path segments ("//") are not allowed');
    if (s === '.' || s === '..') throw invalid(field, value, '"." and ".." path segments are not allowed');
    if (!SEGMENT_CHARS.test(s)) throw invalid(field, value, `path segment ${JSON.stringify(s)} may only contain A-Z, a-z, 0-9, ".", "-" and "_"`);
  }
  return segments;
}

/** True when `value` is a valid SPIFFE ID. */
export function isSpiffeId(value: unknown): value is string {
  try {
    parseSpiffeId(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a SPIFFE ID pattern: an exact ID, a trust domain (`spiffe://td`,
 * matching every ID in it), or a path where a `*` segment matches exactly one
 * segment and a final `**` segment matches one or more.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when the pattern is malformed.
 */
export function parseSpiffeIdPattern(pattern: unknown, field = 'pattern'): SpiffeId {
  if (typeof pattern !== 'string') return parseSpiffeId(pattern, field);
  // Validate with wildcard segments replaced by a placeholder, then keep the original segments.
  const probe = pattern.replace(/\/\*\*$/, '/x').replace(/\/\*(?=\/|$)/g, '/x');
  const parsed = parseSpiffeId(probe, field);
  if (/\*\*./.test(pattern) || pattern.slice(PREFIX.length).split('/').some((s) => s.includes('*') && s !== '*' && s !== '**')) {
    throw invalid(field, pattern, '"*" must be a whole path segment and "**" only the last one');
  }
  const segments = parsed.path === '' ? [] : pattern.slice(PREFIX.length + parsed.trustDomain.length + 1).split('/');
  return Object.freeze({ trustDomain: parsed.trustDomain, path: parsed.path === '' ? '' : `/${segments.join('/')}`, segments: Object.freeze(segments), toString: () => pattern });
}

/**
 * Matches a SPIFFE ID against a pattern (see {@link parseSpiffeIdPattern}).
 * Matching is segment-wise and case-sensitive: `spiffe://td/orders/*` never
 * matches `spiffe://td/orders-evil`. An invalid `id` never matches.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` when the pattern is malformed.
 */
export function matchSpiffeId(pattern: string | SpiffeId, id: string): boolean {
  const p = typeof pattern === 'string' ? parseSpiffeIdPattern(pattern) : pattern;
  let parsed: SpiffeId;
  try {
    parsed = parseSpiffeId(id, 'id');
  } catch {
    return false;
  }
  if (parsed.trustDomain !== p.trustDomain) return false;
  if (p.segments.length === 0) return true; // trust-domain membership
  const ps = p.segments;
  const is = parsed.segments;
  for (let i = 0; i < ps.length; i++) {
    const seg = ps[i];
    if (seg === '**' && i === ps.length - 1) return is.length > i;
    const actual = is[i];
    if (actual === undefined) return false;
    if (seg !== '*' && seg !== actual) return false;
  }
  return is.length === ps.length;
}
