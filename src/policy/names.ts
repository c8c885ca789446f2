/**
 * Name handling shared by every decision point: resource and subject names
 * are split into segments; anything that could make two different-looking
 * names compare equal (or a name escape its parent) is refused, never
 * stripped. Names are NFC-normalised and compared case-sensitively.
 */

/** The stores a resource name may belong to. */
export type ResourceSystem = 'mongodb' | 'dynamodb' | 'http';

/** A split resource name or pattern. */
export interface SplitName {
  readonly system: ResourceSystem;
  /** NFC form of the whole name. */
  readonly normalized: string;
  readonly segments: readonly string[];
  readonly error?: undefined;
}

/** Why a name was refused. */
export interface NameError {
  readonly error: string;
}

/** Marker segments of a pattern. */
export const ONE_SEGMENT = '*';
/** Trailing marker: any number of segments, including none. */
export const ANY_SEGMENTS = '**';

const MAX_NAME_LENGTH = 2048;
// Control, format (zero-width, bidi), default-ignorable, line/paragraph separators,
// private use, unassigned, lone surrogates, replacement char, non-ASCII spaces.
const FORBIDDEN_CHARS = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\uFFFD]|(?! )\p{Zs}/u;
// Fullwidth/halfwidth forms, letterlike symbols, mathematical alphanumerics, enclosed alphanumerics: Latin look-alikes NFC keeps.
const LOOKALIKE_BLOCKS = /[\uFF00-\uFFEF\u2100-\u214F\u2460-\u24FF\u{1D400}-\u{1D7FF}\u{1F100}-\u{1F1FF}]/u;
// A combining mark on an ASCII base survives NFC when no precomposed form exists (o + U+0338).
const MARK_ON_ASCII = /[\x20-\x7e]\p{M}/u;
const NON_ASCII = /[^\x20-\x7e]/;
const LATIN = /\p{sc=Latin}/u;
const NOT_LATIN_OR_COMMON = /[^\p{sc=Latin}\p{sc=Common}\p{sc=Inherited}]/u;
const CYRILLIC = /\p{sc=Cyrillic}/u;
const GREEK = /\p{sc=Greek}/u;
// Cyrillic, Greek and Armenian letters that look like Latin ones (UTS #39 confusables, abridged).
const LATIN_LOOKALIKES = new Set(
  'аеорсухіјѕһԁԛԝӏԌԍвкмнтАВЕКМНОРСТХІЈЅԜҮ' + 'αοριτυνκεχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ' + 'օսոհցզոաԳ',
);
const PERCENT_TRIPLET = /%[0-9a-fA-F]{2}/;
const ORIGIN = /^https?:\/\/(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
const SPIFFE_TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SPIFFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

function percentDecodeOnce(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/** Why a single (literal) segment is refused, or undefined when it is acceptable. */
export function segmentProblem(seg: string): string | undefined {
  if (seg === '.' || seg === '..') return 'dot segment';
  if (seg.includes('\\')) return 'backslash';
  if (seg.includes('%')) {
    // Decode repeatedly (double encoding: %252e) and refuse what decodes to a dot segment or a separator.
    let cur = seg;
    for (let i = 0; i < 4 && PERCENT_TRIPLET.test(cur); i++) {
      cur = percentDecodeOnce(cur);
      if (cur === '.' || cur === '..') return 'percent-encoded dot segment';
      if (cur.includes('/') || cur.includes('\\')) return 'percent-encoded path separator';
      if (FORBIDDEN_CHARS.test(cur)) return 'percent-encoded control or invisible character';
    }
  }
  if (!NON_ASCII.test(seg)) return undefined;
  if (FORBIDDEN_CHARS.test(seg)) return 'control, invisible or zero-width character';
  if (LOOKALIKE_BLOCKS.test(seg)) return 'fullwidth or mathematical look-alike character';
  if (MARK_ON_ASCII.test(seg)) return 'combining mark on an ASCII character';
  if (LATIN.test(seg) && NOT_LATIN_OR_COMMON.test(seg)) return 'mixed scripts (possible confusable)';
  if (CYRILLIC.test(seg) && GREEK.test(seg)) return 'mixed scripts (possible confusable)';
  if (!LATIN.test(seg)) {
    let letters = 0;
    let lookalikes = 0;
    for (const ch of seg) {
      if (/\p{L}/u.test(ch)) {
        letters++;
        if (LATIN_LOOKALIKES.has(ch)) lookalikes++;
      }
    }
    if (letters > 0 && letters === lookalikes) return 'made only of Latin look-alike letters (confusable)';
  }
  return undefined;
}

function splitBody(system: ResourceSystem, body: string): string[] | NameError {
  if (body.length === 0) return { error: 'empty name after the system prefix' };
  if (system !== 'http') return body.split('/');
  const scheme = body.indexOf('://');
  const firstSlash = body.indexOf('/');
  if (scheme === -1 || firstSlash < scheme) return body.split('/');
  const pathStart = body.indexOf('/', scheme + 3);
  const origin = pathStart === -1 ? body : body.slice(0, pathStart);
  if (!ORIGIN.test(origin)) return { error: 'the origin must be lowercase scheme://host[:port] (punycode for IDNs)' };
  if (pathStart === -1) return [origin];
  const rest = body.slice(pathStart + 1).split('/');
  return [origin, ...rest];
}

function splitSystem(name: string): { system: ResourceSystem; body: string } | NameError {
  const colon = name.indexOf(':');
  const system = colon === -1 ? '' : name.slice(0, colon);
  if (system !== 'mongodb' && system !== 'dynamodb' && system !== 'http') {
    return { error: 'must start with mongodb:, dynamodb: or http:' };
  }
  return { system, body: name.slice(colon + 1) };
}

/** Splits and checks a resource pattern of a policy rule. */
export function splitResourcePattern(pattern: string): SplitName | NameError {
  if (pattern.length > MAX_NAME_LENGTH) return { error: 'too long' };
  const normalized = pattern.normalize('NFC');
  const head = splitSystem(normalized);
  if ('error' in head) return head;
  const segments = splitBody(head.system, head.body);
  if ('error' in segments) return segments;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? '';
    const problem = checkPatternSegment(seg, i === segments.length - 1, head.system === 'http' && i === 0);
    if (problem !== undefined) return { error: `segment ${i + 1} (${JSON.stringify(seg)}): ${problem}` };
  }
  return { system: head.system, normalized, segments };
}

/** Why a pattern segment is refused, or undefined. `*` and a trailing `**` are wildcards; any other `*` is refused. */
export function checkPatternSegment(seg: string, last: boolean, httpOrigin = false): string | undefined {
  if (seg === ONE_SEGMENT) return undefined;
  if (seg === ANY_SEGMENTS) return last ? undefined : '"**" is only allowed as the last segment';
  if (seg.includes('*')) return 'a wildcard must be a whole segment ("*" or a trailing "**")';
  if (httpOrigin) return undefined; // already checked against ORIGIN
  return segmentProblem(seg);
}

/**
 * Splits and checks a requested resource name. Refuses (never strips)
 * invisible characters, confusables, dot segments and their percent-encoded
 * forms, and names of another system than `expectedSystem`.
 */
export function splitRequestedResource(name: string, expectedSystem?: ResourceSystem): SplitName | NameError {
  if (typeof name !== 'string' || name.length === 0) return { error: 'empty resource name' };
  if (name.length > MAX_NAME_LENGTH) return { error: 'resource name too long' };
  const normalized = name.normalize('NFC');
  const head = splitSystem(normalized);
  if ('error' in head) return head;
  if (expectedSystem !== undefined && head.system !== expectedSystem) return { error: `a ${head.system} resource in a ${expectedSystem} operation` };
  const segments = splitBody(head.system, head.body);
  if ('error' in segments) return segments;
  for (let i = 0; i < segments.length; i++) {
    if (head.system === 'http' && i === 0) {
      if (!ORIGIN.test(segments[0] ?? '')) return { error: 'the origin must be lowercase scheme://host[:port]' };
      continue;
    }
    const problem = segmentProblem(segments[i] ?? '');
    if (problem !== undefined) return { error: problem };
  }
  return { system: head.system, normalized, segments };
}

/** Splits a SPIFFE ID or ID pattern into `[trustDomain, ...pathSegments]`. */
export function splitSpiffePattern(id: string, allowWildcards = true): { segments: readonly string[]; error?: undefined } | NameError {
  if (typeof id !== 'string' || !id.startsWith('spiffe://')) return { error: 'must start with spiffe://' };
  if (id.length > MAX_NAME_LENGTH) return { error: 'too long' };
  const parts = id.slice('spiffe://'.length).split('/');
  const td = parts[0] ?? '';
  if (!SPIFFE_TRUST_DOMAIN.test(td)) return { error: 'the trust domain must be lowercase letters, digits, ".", "-" or "_"' };
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i] ?? '';
    const last = i === parts.length - 1;
    if (allowWildcards && (seg === ONE_SEGMENT || (seg === ANY_SEGMENTS && last))) continue;
    if (seg === ANY_SEGMENTS) return { error: '"**" is only allowed as the last segment' };
    if (seg === '.' || seg === '..') return { error: 'dot segments are not allowed' };
    if (!SPIFFE_SEGMENT.test(seg)) return { error: `path segment ${JSON.stringify(seg)} must be letters, digits, ".", "-" or "_"` };
  }
  return { segments: parts };
}

/** True when `pattern` segments (with `*` / trailing `**`) match `name` segments. Allocation-free. */
export function matchSegments(pattern: readonly string[], name: readonly string[]): boolean {
  const n = pattern.length;
  for (let i = 0; i < n; i++) {
    const p = pattern[i];
    if (p === ANY_SEGMENTS) return true;
    const s = name[i];
    if (s === undefined) return false;
    if (p === ONE_SEGMENT) {
      if (s.length === 0) return false;
    } else if (p !== s) {
      return false;
    }
  }
  return n === name.length;
}
