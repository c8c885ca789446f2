import { SecureNosqlError } from '../../errors/index.js';

/** A request target after canonicalisation. */
export interface CanonicalTarget {
  /** Canonical path without the query: what policy matches against. */
  readonly path: string;
  /** What is sent: the canonical path plus the query, if any (`?` included). */
  readonly pathAndQuery: string;
}

const HEX = '0123456789ABCDEF';
// RFC 3986 §2.3 unreserved characters: decoding them never changes meaning.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// Literal characters a path segment may keep as they are (pchar minus pct-encoded).
const PCHAR_LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

function isHex(code: number | undefined): boolean {
  return code !== undefined && ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66));
}

function refuse(reason: string, what: string): never {
  // The path itself is left out of the message: a caller may have put an identifier or a key in it.
  throw new SecureNosqlError('POLICY_DENIED', `HTTP request refused before sending: the path ${what}, so policy could not match it safely. Nothing was sent.`, {
    remediation: 'Send a plain path: no encoded dots, slashes or backslashes, no double percent-encoding, no empty segments, no fragment.',
    details: { reason },
  });
}

function encodeLiteral(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${HEX[byte >> 4] ?? '0'}${HEX[byte & 15] ?? '0'}`;
  return out;
}

/**
 * Canonicalises one path segment: decodes percent-encoded unreserved
 * characters, upper-cases the hex of what stays encoded, percent-encodes
 * literal characters that are not allowed in a segment, and refuses encodings
 * that could make the server see a different path than policy did.
 */
function canonicalSegment(raw: string): string {
  let out = '';
  let encoded = false;
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i] ?? '';
    const code = raw.charCodeAt(i);
    if (char === '%') {
      const h1 = raw.charCodeAt(i + 1);
      const h2 = raw.charCodeAt(i + 2);
      if (!isHex(h1) || !isHex(h2)) refuse('malformed_percent_encoding', 'has a malformed percent-encoding');
      const byte = parseInt(raw.slice(i + 1, i + 3), 16);
      i += 2;
      encoded = true;
      if (byte === 0x2f || byte === 0x5c) refuse('encoded_slash', 'contains an encoded slash or backslash');
      if (byte === 0x00) refuse('encoded_nul', 'contains an encoded NUL byte');
      // `%25` followed by hex is a second layer of encoding (`%252e`): a server that decodes twice would see `.`.
      if (byte === 0x25 && isHex(raw.charCodeAt(i + 1)) && isHex(raw.charCodeAt(i + 2))) refuse('double_encoding', 'is percent-encoded twice');
      const decoded = String.fromCharCode(byte);
      out += UNRESERVED.test(decoded) ? decoded : `%${HEX[byte >> 4] ?? '0'}${HEX[byte & 15] ?? '0'}`;
      continue;
    }
    if (code < 0x20 || code === 0x7f) refuse('control_character', 'contains a control character');
    if (char === '\\') refuse('backslash', 'contains a backslash');
    out += PCHAR_LITERAL.test(char) ? char : encodeLiteral(char);
  }
  // `%2e%2e` is a dot segment in disguise: a normalising server resolves it, policy would not have.
  if (encoded && (out === '.' || out === '..')) refuse('encoded_dot_segment', 'contains a percent-encoded dot segment');
  return out;
}

/**
 * Canonicalises an origin-relative request target (RFC 3986 §6.2.2):
 * percent-encoding normalised, then dot segments removed (§5.2.4). Refuses
 * targets whose meaning depends on how the server decodes them: encoded dot
 * segments, encoded slashes or backslashes, double encoding, empty segments,
 * a fragment, or anything not starting with a single `/`. The query is kept
 * as given and is not part of the policy resource.
 *
 * @throws SecureNosqlError `POLICY_DENIED` for a refused target (nothing is sent).
 */
export function canonicalizePath(target: string): CanonicalTarget {
  if (typeof target !== 'string' || !target.startsWith('/')) refuse('not_origin_relative', 'does not start with "/"');
  if (target.startsWith('//')) refuse('network_path', 'starts with "//" (another authority)');
  if (target.includes('#')) refuse('fragment', 'contains a fragment ("#")');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  for (let i = 0; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) refuse('query_character', 'has a query with a space, control or non-ASCII character (percent-encode it)');
  }
  const raw = rawPath.normalize('NFC').split('/');
  const output: string[] = [];
  // raw[0] is the empty string before the leading "/".
  for (let i = 1; i < raw.length; i++) {
    const segment = canonicalSegment(raw[i] ?? '');
    const last = i === raw.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      // A trailing dot segment leaves a trailing slash (RFC 3986 §5.2.4).
      if (last) output.push('');
      continue;
    }
    if (segment === '' && !last) refuse('empty_segment', 'contains an empty segment ("//")');
    output.push(segment);
  }
  const path = `/${output.join('/')}`;
  return { path, pathAndQuery: path + query };
}
