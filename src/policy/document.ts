import { parseDocument } from 'yaml';
import { SecureNosqlError } from '../errors/index.js';
import type { Action } from './types.js';
import { splitResourcePattern, splitSpiffePattern } from './names.js';

/**
 * A policy document (JSON or YAML). Default deny: an operation is allowed only
 * when, for every resource it touches, an `allow` rule of a service matching
 * the caller grants the action and its conditions hold, and no `deny` rule
 * matches. A matching `deny` rule always wins.
 *
 * ```yaml
 * version: 1
 * services:
 *   - id: spiffe://prod.example/ns/orders/sa/orders-api   # exact SPIFFE ID or a segment pattern (`*`, trailing `**`)
 *     rules:
 *       - id: orders-rw                                     # unique in the document
 *         resources: ["mongodb:orders/*", "dynamodb:orders", "dynamodb:orders/index/*"]
 *         actions: [read, write]
 *         conditions:
 *           environments: [prod]
 *           timeWindow: { days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00" }   # UTC
 *           rate: { perSecond: 100, burst: 200 }
 * ```
 */
export interface PolicyDocument {
  /** Schema version; only `1` exists. */
  readonly version: 1;
  /** Services and their rules. */
  readonly services: readonly ServicePolicy[];
}

/** The rules of one service (or of every service matching a SPIFFE ID pattern). */
export interface ServicePolicy {
  /** A SPIFFE ID (`spiffe://td/ns/orders/sa/api`) or a pattern (`spiffe://td/ns/orders/*`, `spiffe://td/**`). */
  readonly id: string;
  /** Free text for humans. */
  readonly description?: string;
  /** The rules; at least one. */
  readonly rules: readonly PolicyRule[];
}

/** One rule: resource patterns × actions, under optional conditions. */
export interface PolicyRule {
  /** Unique in the document; reported in decisions and audit records. */
  readonly id: string;
  /** `allow` (default) grants; `deny` forbids and overrides every allow. */
  readonly effect?: 'allow' | 'deny';
  /**
   * Resource patterns: `mongodb:<db>/<collection>`, `dynamodb:<table>[/index/<name>]`,
   * `http:<origin><path>`. A segment is a literal, `*` (exactly one non-empty segment)
   * or, as the last segment only, `**` (any number of segments, including none).
   */
  readonly resources: readonly string[];
  /** Granted (or denied) actions. */
  readonly actions: readonly Action[];
  /** All given conditions must hold for the rule to apply. */
  readonly conditions?: RuleConditions;
  /** Free text for humans. */
  readonly description?: string;
}

/** Day names used by {@link TimeWindow}. */
export type DayName = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';

/** A daily UTC time window. `start` > `end` wraps past midnight. */
export interface TimeWindow {
  /** Days (UTC) on which the window opens; every day when absent. */
  readonly days?: readonly DayName[];
  /** `HH:MM`, inclusive, UTC. */
  readonly start: string;
  /** `HH:MM`, exclusive, UTC. */
  readonly end: string;
}

/** Conditions of a rule. */
export interface RuleConditions {
  /** The request's environment label (`DecisionContext.environment`) must be one of these. */
  readonly environments?: readonly string[];
  /** The evaluation time must fall in this UTC window. */
  readonly timeWindow?: TimeWindow;
  /** Token bucket per (rule, subject): `perSecond` refill, `burst` capacity (default `perSecond`). Exceeding denies. */
  readonly rate?: { readonly perSecond: number; readonly burst?: number };
}

/** The actions a rule may name. */
export const ACTIONS: readonly Action[] = Object.freeze(['read', 'write', 'admin']);
/** The day names a time window may name. */
export const DAY_NAMES: readonly DayName[] = Object.freeze(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']);

const MAX_ERRORS_IN_MESSAGE = 10;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

type Obj = Record<string, unknown>;

class Collector {
  readonly errors: string[] = [];
  add(path: string, message: string): void {
    this.errors.push(`${path === '' ? '(root)' : path}: ${message}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value) ?? typeof value}`;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(c: Collector, path: string, obj: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) c.add(join(path, key), `unknown key (allowed: ${allowed.join(', ')})`);
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function obj(c: Collector, path: string, v: unknown): Obj | undefined {
  if (isObj(v)) return v;
  c.add(path, `expected an object, got ${describe(v)}`);
  return undefined;
}

function nonEmptyArray(c: Collector, path: string, v: unknown): unknown[] | undefined {
  if (!Array.isArray(v)) {
    c.add(path, `expected a list, got ${describe(v)}`);
    return undefined;
  }
  if (v.length === 0) {
    c.add(path, 'must not be empty');
    return undefined;
  }
  return v as unknown[];
}

function str(c: Collector, path: string, v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  c.add(path, `expected a non-empty string, got ${describe(v)}`);
  return undefined;
}

/**
 * Validates a parsed policy document by hand-written schema checks. Every
 * error names its path (`services[0].rules[2].actions[1]: "delete" is not one
 * of read, write, admin`); unknown keys are rejected; rule ids must be unique.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` listing the errors.
 */
export function validatePolicyDocument(input: unknown, source = 'policy document'): PolicyDocument {
  const c = new Collector();
  const root = obj(c, '', input);
  if (root !== undefined) {
    checkKeys(c, '', root, ['version', 'services']);
    if (root['version'] !== 1) c.add('version', `must be 1, got ${describe(root['version'])}`);
    const services = nonEmptyArray(c, 'services', root['services']);
    const ruleIds = new Map<string, string>();
    services?.forEach((svc, i) => {
      validateService(c, `services[${i}]`, svc, ruleIds);
    });
  }
  if (c.errors.length > 0) {
    const shown = c.errors.slice(0, MAX_ERRORS_IN_MESSAGE).join('; ');
    const more = c.errors.length > MAX_ERRORS_IN_MESSAGE ? ` (and ${c.errors.length - MAX_ERRORS_IN_MESSAGE} more)` : '';
    throw new SecureNosqlError('CONFIG_INVALID', `Invalid ${source}: ${shown}${more}`, {
      remediation: 'Fix the listed fields of the policy document; see examples/policy/policy.yaml for the schema.',
      details: { errors: c.errors.length, firstError: c.errors[0] },
    });
  }
  return input as PolicyDocument;
}

function validateService(c: Collector, path: string, v: unknown, ruleIds: Map<string, string>): void {
  const svc = obj(c, path, v);
  if (svc === undefined) return;
  checkKeys(c, path, svc, ['id', 'description', 'rules']);
  const id = str(c, `${path}.id`, svc['id']);
  if (id !== undefined) {
    const problem = splitSpiffePattern(id).error;
    if (problem !== undefined) c.add(`${path}.id`, `${describe(id)} is not a SPIFFE ID or ID pattern: ${problem}`);
  }
  if (svc['description'] !== undefined && typeof svc['description'] !== 'string') c.add(`${path}.description`, 'expected a string');
  const rules = nonEmptyArray(c, `${path}.rules`, svc['rules']);
  rules?.forEach((rule, j) => {
    validateRule(c, `${path}.rules[${j}]`, rule, ruleIds);
  });
}

function validateRule(c: Collector, path: string, v: unknown, ruleIds: Map<string, string>): void {
  const rule = obj(c, path, v);
  if (rule === undefined) return;
  checkKeys(c, path, rule, ['id', 'effect', 'resources', 'actions', 'conditions', 'description']);
  const id = str(c, `${path}.id`, rule['id']);
  if (id !== undefined) {
    const previous = ruleIds.get(id);
    if (previous !== undefined) c.add(`${path}.id`, `duplicate rule id ${describe(id)} (first used at ${previous})`);
    else ruleIds.set(id, `${path}.id`);
  }
  const effect = rule['effect'];
  if (effect !== undefined && effect !== 'allow' && effect !== 'deny') c.add(`${path}.effect`, `${describe(effect)} is not one of allow, deny`);
  if (rule['description'] !== undefined && typeof rule['description'] !== 'string') c.add(`${path}.description`, 'expected a string');
  nonEmptyArray(c, `${path}.resources`, rule['resources'])?.forEach((r, k) => {
    const p = `${path}.resources[${k}]`;
    const s = str(c, p, r);
    if (s === undefined) return;
    const parsed = splitResourcePattern(s);
    if (parsed.error !== undefined) c.add(p, `${describe(s)} is not a valid resource pattern: ${parsed.error}`);
  });
  nonEmptyArray(c, `${path}.actions`, rule['actions'])?.forEach((a, k) => {
    if (typeof a !== 'string' || !(ACTIONS as readonly string[]).includes(a)) c.add(`${path}.actions[${k}]`, `${describe(a)} is not one of ${ACTIONS.join(', ')}`);
  });
  if (rule['conditions'] !== undefined) validateConditions(c, `${path}.conditions`, rule['conditions']);
}

function validateConditions(c: Collector, path: string, v: unknown): void {
  const cond = obj(c, path, v);
  if (cond === undefined) return;
  checkKeys(c, path, cond, ['environments', 'timeWindow', 'rate']);
  if (cond['environments'] !== undefined) {
    nonEmptyArray(c, `${path}.environments`, cond['environments'])?.forEach((e, k) => str(c, `${path}.environments[${k}]`, e));
  }
  if (cond['timeWindow'] !== undefined) {
    const p = `${path}.timeWindow`;
    const tw = obj(c, p, cond['timeWindow']);
    if (tw !== undefined) {
      checkKeys(c, p, tw, ['days', 'start', 'end']);
      for (const key of ['start', 'end'] as const) {
        const t = tw[key];
        if (typeof t !== 'string' || !HHMM.test(t)) c.add(`${p}.${key}`, `${describe(t)} is not a UTC time "HH:MM" (00:00-23:59)`);
      }
      if (tw['start'] !== undefined && tw['start'] === tw['end']) c.add(`${p}.end`, 'must differ from start (an empty window never matches)');
      if (tw['days'] !== undefined) {
        nonEmptyArray(c, `${p}.days`, tw['days'])?.forEach((d, k) => {
          if (typeof d !== 'string' || !(DAY_NAMES as readonly string[]).includes(d)) c.add(`${p}.days[${k}]`, `${describe(d)} is not one of ${DAY_NAMES.join(', ')}`);
        });
      }
    }
  }
  if (cond['rate'] !== undefined) {
    const p = `${path}.rate`;
    const rate = obj(c, p, cond['rate']);
    if (rate !== undefined) {
      checkKeys(c, p, rate, ['perSecond', 'burst']);
      const ps = rate['perSecond'];
      if (typeof ps !== 'number' || !Number.isFinite(ps) || ps <= 0) c.add(`${p}.perSecond`, `${describe(ps)} is not a positive number`);
      const burst = rate['burst'];
      if (burst !== undefined && (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 1)) c.add(`${p}.burst`, `${describe(burst)} is not a number ≥ 1`);
    }
  }
}

/**
 * Parses policy text (YAML, which includes JSON) and validates it.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for a syntax or schema error.
 */
export function parsePolicyText(text: string, source = 'policy document'): PolicyDocument {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
    throw new SecureNosqlError('CONFIG_INVALID', `Invalid ${source}: not valid YAML/JSON${where} (${first.code})`, {
      remediation: 'Fix the syntax of the policy file; it must be YAML or JSON.',
      details: { line: pos?.line, column: pos?.col },
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (cause) {
    throw new SecureNosqlError('CONFIG_INVALID', `Invalid ${source}: the YAML could not be converted (too many aliases?)`, { cause });
  }
  return validatePolicyDocument(value, source);
}
