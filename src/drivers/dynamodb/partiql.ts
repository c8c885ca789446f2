import type { Action } from '../../policy/types.js';

/** What a PartiQL statement touches, as far as policy is concerned. */
export interface PartiqlTarget {
  /** `read` for SELECT / EXISTS, `write` for INSERT / UPDATE / DELETE. */
  readonly action: Action;
  /** The table name, unquoted. */
  readonly table: string;
  /** Set for `SELECT ... FROM "table"."index"`. */
  readonly index?: string;
}

type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'quoted'; readonly text: string }
  | { readonly kind: 'string' }
  | { readonly kind: 'punct'; readonly text: string };

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /[0-9][0-9.eE+-]*/y;

/** Splits a statement into tokens; undefined for anything the tokenizer does not understand (fail closed). */
function tokenize(statement: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < statement.length) {
    const ch = statement.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      const end = statement.indexOf('"', i + 1);
      // An escaped quote ("") inside an identifier is legal PartiQL but never needed for a table name: refuse it.
      if (end < 0 || statement.charAt(end + 1) === '"') return undefined;
      tokens.push({ kind: 'quoted', text: statement.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (ch === "'") {
      let j = i + 1;
      for (;;) {
        const end = statement.indexOf("'", j);
        if (end < 0) return undefined;
        if (statement.charAt(end + 1) === "'") {
          j = end + 2;
          continue;
        }
        i = end + 1;
        break;
      }
      tokens.push({ kind: 'string' });
      continue;
    }
    // Comments could hide text from this reader but not from the server: refuse them.
    if (statement.startsWith('--', i) || statement.startsWith('/*', i)) return undefined;
    WORD.lastIndex = i;
    const word = WORD.exec(statement);
    if (word !== null) {
      tokens.push({ kind: 'word', text: word[0] });
      i += word[0].length;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(statement);
    if (num !== null) {
      tokens.push({ kind: 'punct', text: '0' });
      i += num[0].length;
      continue;
    }
    tokens.push({ kind: 'punct', text: ch });
    i++;
  }
  return tokens;
}

function isWord(t: Token | undefined, word: string): boolean {
  return t?.kind === 'word' && t.text.toUpperCase() === word;
}

function nameOf(t: Token | undefined): string | undefined {
  if (t === undefined) return undefined;
  if (t.kind === 'quoted') return t.text === '' ? undefined : t.text;
  if (t.kind === 'word') return t.text;
  return undefined;
}

/** Reads `table` or `table.index` at `at`; returns the names and the index after them. */
function readTable(tokens: readonly Token[], at: number): { table: string; index: string | undefined; next: number } | undefined {
  const table = nameOf(tokens[at]);
  if (table === undefined) return undefined;
  const dot = tokens[at + 1];
  if (dot?.kind === 'punct' && dot.text === '.') {
    const index = nameOf(tokens[at + 2]);
    return index === undefined ? undefined : { table, index, next: at + 3 };
  }
  return { table, index: undefined, next: at + 1 };
}

function parseSelect(tokens: readonly Token[], start: number, end: number): PartiqlTarget | undefined {
  let depth = 0;
  let from = -1;
  for (let i = start + 1; i < end; i++) {
    const t = tokens[i];
    if (t === undefined) return undefined;
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[' || t.text === '{')) depth++;
    else if (t.kind === 'punct' && (t.text === ')' || t.text === ']' || t.text === '}')) depth--;
    else if (isWord(t, 'SELECT')) return undefined; // nested query: DynamoDB has none, so refuse rather than guess
    else if (isWord(t, 'FROM')) {
      // A FROM inside brackets or a second one names a table this reader would not check.
      if (from >= 0 || depth !== 0) return undefined;
      from = i;
    }
  }
  if (from < 0) return undefined;
  const target = readTable(tokens, from + 1);
  if (target === undefined) return undefined;
  const after = tokens[target.next];
  if (target.next !== end && !isWord(after, 'WHERE') && !isWord(after, 'ORDER')) return undefined;
  return target.index === undefined ? { action: 'read', table: target.table } : { action: 'read', table: target.table, index: target.index };
}

/** A write statement's table; writes through an index do not exist, so `a.b` is refused. */
function writeTarget(tokens: readonly Token[], at: number, follow: readonly string[]): PartiqlTarget | undefined {
  const target = readTable(tokens, at);
  if (target?.index !== undefined || target === undefined) return undefined;
  const after = tokens[target.next];
  if (!follow.some((w) => isWord(after, w))) return undefined;
  return { action: 'write', table: target.table };
}

/**
 * Reads the verb and the table of a DynamoDB PartiQL statement: `SELECT ...
 * FROM t[.index]` → read; `INSERT INTO t VALUE`, `UPDATE t SET|REMOVE`,
 * `DELETE FROM t` → write; `EXISTS(SELECT ...)` (transaction condition) →
 * read. Quoted (`"orders"`) and bare names are accepted. Anything else —
 * several tables, comments, odd quoting — returns undefined, and the caller
 * denies the statement.
 */
export function parsePartiqlStatement(statement: unknown): PartiqlTarget | undefined {
  if (typeof statement !== 'string' || statement.length === 0 || statement.length > 8192) return undefined;
  const tokens = tokenize(statement);
  if (tokens === undefined || tokens.length === 0) return undefined;
  const first = tokens[0];
  if (isWord(first, 'SELECT')) return parseSelect(tokens, 0, tokens.length);
  if (isWord(first, 'EXISTS')) {
    const open = tokens[1];
    const close = tokens[tokens.length - 1];
    if (open?.kind !== 'punct' || open.text !== '(' || close?.kind !== 'punct' || close.text !== ')' || !isWord(tokens[2], 'SELECT')) return undefined;
    return parseSelect(tokens, 2, tokens.length - 1);
  }
  if (isWord(first, 'INSERT') && isWord(tokens[1], 'INTO')) return writeTarget(tokens, 2, ['VALUE']);
  if (isWord(first, 'UPDATE')) return writeTarget(tokens, 1, ['SET', 'REMOVE']);
  if (isWord(first, 'DELETE') && isWord(tokens[1], 'FROM')) return writeTarget(tokens, 2, ['WHERE']);
  return undefined;
}
