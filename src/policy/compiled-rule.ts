import type { Decision } from './types.js';
import type { PolicyRule } from './document.js';
import { DAY_NAMES } from './document.js';
import { splitResourcePattern, type ResourceSystem } from './names.js';
import { actionBit } from './request-check.js';

/** A rule ready for matching (internal). */
export interface CompiledRule {
  readonly id: string;
  readonly deny: boolean;
  readonly actionMask: number;
  readonly patterns: readonly { readonly system: ResourceSystem; readonly segments: readonly string[]; readonly text: string }[];
  readonly environments: ReadonlySet<string> | undefined;
  readonly window: { readonly dayMask: number; readonly start: number; readonly end: number; readonly text: string } | undefined;
  readonly rate: { readonly perSecond: number; readonly burst: number } | undefined;
  /** Preallocated decisions: the hot path allocates nothing on allow. */
  readonly allowDecision: Decision;
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Compiles one validated rule. */
export function compileRule(rule: PolicyRule): CompiledRule {
  const c = rule.conditions;
  const tw = c?.timeWindow;
  return {
    id: rule.id,
    deny: rule.effect === 'deny',
    actionMask: rule.actions.reduce((m, a) => m | actionBit(a), 0),
    patterns: rule.resources.map((text) => {
      const split = splitResourcePattern(text);
      if (split.error !== undefined) throw new Error(`unvalidated pattern ${text}`);
      return { system: split.system, segments: split.segments, text };
    }),
    environments: c?.environments === undefined ? undefined : new Set(c.environments),
    window:
      tw === undefined
        ? undefined
        : {
            dayMask: (tw.days ?? DAY_NAMES).reduce((m, d) => m | (1 << DAY_NAMES.indexOf(d)), 0),
            start: minutes(tw.start),
            end: minutes(tw.end),
            text: `${(tw.days ?? ['every day']).join(',')} ${tw.start}-${tw.end} UTC`,
          },
    rate: c?.rate === undefined ? undefined : { perSecond: c.rate.perSecond, burst: c.rate.burst ?? Math.max(1, c.rate.perSecond) },
    allowDecision: Object.freeze({ allowed: true, ruleId: rule.id, reason: `allowed by rule ${rule.id}`, code: 'allowed' as const }),
  };
}

/** True when the UTC instant `ms` falls in the window. `start > end` wraps past midnight (the day is the opening day). */
export function inWindow(w: NonNullable<CompiledRule['window']>, ms: number): boolean {
  const minute = Math.floor(ms / 60_000) % 1440;
  const day = (Math.floor(ms / 86_400_000) + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  if (w.start < w.end) return (w.dayMask & (1 << day)) !== 0 && minute >= w.start && minute < w.end;
  if (minute >= w.start) return (w.dayMask & (1 << day)) !== 0;
  if (minute < w.end) return (w.dayMask & (1 << ((day + 6) % 7))) !== 0;
  return false;
}

/** A token bucket of one (rule, subject). */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
      this.#last = now;
    }
  }

  /** Takes one token when available. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when a token is available, without taking it (for explain). */
  peek(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }
}
