/**
 * A deliberately small reader for the two STS Query API documents the
 * adapter needs (AssumeRoleWithWebIdentityResponse and ErrorResponse). It is
 * not an XML parser: it checks the root element, extracts named leaf elements
 * that must occur exactly once, and decodes the five predefined entities and
 * numeric character references. Anything unexpected (CDATA, DTD, nested
 * markup in a leaf, duplicates) is refused.
 */

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g;
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string | undefined {
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});)/.test(text)) return undefined;
  return text.replace(ENTITY, (_m, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (name !== undefined) return NAMED[name] ?? '';
    const code = dec !== undefined ? Number(dec) : Number.parseInt(hex ?? '0', 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
  });
}

/** The root element name of a document, or undefined when it is not a plain element document. */
export function rootElement(xml: string): string | undefined {
  if (xml.includes('<!') || xml.length > 64 * 1024) return undefined; // no DTD, no CDATA, no comments, bounded
  const body = xml.replace(/^\uFEFF?\s*(?:<\?xml[^?]*\?>\s*)?/, '');
  return /^<([A-Za-z][\w.-]*)[\s>]/.exec(body)?.[1];
}

/** The decoded text of `<name>` inside `scope`; undefined when absent, repeated or not a text leaf. */
export function leafText(scope: string, name: string): string | undefined {
  const raw = element(scope, name);
  if (raw === undefined || raw.includes('<')) return undefined;
  return decode(raw.trim());
}

/** The inner markup of `<name>...</name>` inside `scope`; undefined when absent or repeated. */
export function element(scope: string, name: string): string | undefined {
  const open = new RegExp(`<${name}(?:\\s[^>]*)?>`, 'g');
  const matches = [...scope.matchAll(open)];
  const match = matches.length === 1 ? matches[0] : undefined;
  if (match === undefined) return undefined;
  const start = match.index + match[0].length;
  const end = scope.indexOf(`</${name}>`, start);
  return end < 0 ? undefined : scope.slice(start, end);
}
