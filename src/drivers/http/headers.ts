import type { Dispatcher } from 'undici';

/** Request headers as one plain object with lower-case names. */
export type HeaderRecord = Record<string, string | string[]>;

function add(out: HeaderRecord, name: unknown, value: unknown): void {
  if (value === undefined || value === null) return;
  const key = String(name).toLowerCase();
  const values = (Array.isArray(value) ? (value as unknown[]) : [value]).map((v) => (typeof v === 'string' ? v : String(v as string | number)));
  const existing = out[key];
  if (existing === undefined) out[key] = values.length === 1 ? (values[0] ?? '') : values;
  else out[key] = [...(Array.isArray(existing) ? existing : [existing]), ...values];
}

/**
 * Copies any header shape undici accepts (plain object, flat `[name, value,
 * ...]` array, array of pairs, `Headers`/`Map`/other iterables) into one
 * object with lower-case names, so an `Authorization` header cannot hide
 * under another spelling or shape.
 */
export function normalizeHeaders(headers: Dispatcher.DispatchOptions['headers']): HeaderRecord {
  const out: HeaderRecord = {};
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    const list = headers as unknown[];
    if (list.length > 0 && Array.isArray(list[0])) {
      for (const pair of list as [unknown, unknown][]) add(out, pair[0], pair[1]);
    } else {
      for (let i = 0; i + 1 < list.length; i += 2) add(out, list[i], list[i + 1]);
    }
    return out;
  }
  if (typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[unknown, unknown]>) add(out, name, value);
    return out;
  }
  for (const [name, value] of Object.entries(headers)) add(out, name, value);
  return out;
}
