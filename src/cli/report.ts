/** Outcome of one doctor check. `skip` means a prerequisite failed or it does not apply. */
export type DoctorStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** Non-secret facts a check found (paths, times, claim names), for `--json` consumers. */
export type DoctorFacts = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

/** One row of the doctor table. */
export interface DoctorCheck {
  /** Stable identifier, e.g. `files.key-permissions` or `token.orders-db`. */
  readonly id: string;
  /** Short human title. */
  readonly title: string;
  /** Pass, warn, fail or skip. */
  readonly status: DoctorStatus;
  /** What was found; never contains a secret. */
  readonly detail: string;
  /** What to do about it; present on every `warn` and `fail` row. */
  readonly remediation?: string;
  /** Error code of the library error behind a failure, when there was one. */
  readonly code?: string;
  /** Structured, non-secret facts. */
  readonly facts?: DoctorFacts;
}

/** The whole doctor run; `--json` prints exactly this object. */
export interface DoctorReport {
  /** True when no check failed (warnings allowed). */
  readonly ok: boolean;
  /** Report format version. */
  readonly version: 1;
  /** When the run started (ISO 8601). */
  readonly startedAt: string;
  /** The configured service identity, when the configuration could be read. */
  readonly serviceId: string | undefined;
  /** Where the configuration came from: `env`, `file:<path>` or `object`. */
  readonly configSource: string;
  /** Audiences a token was requested for. */
  readonly audiences: readonly string[];
  /** Counts per status. */
  readonly summary: Readonly<Record<DoctorStatus, number>>;
  /** The rows, in the order they ran. */
  readonly checks: readonly DoctorCheck[];
}

/** Builds a row, leaving out absent optional fields (exactOptionalPropertyTypes). */
export function check(
  id: string,
  title: string,
  status: DoctorStatus,
  detail: string,
  extra: { remediation?: string | undefined; code?: string | undefined; facts?: DoctorFacts | undefined } = {},
): DoctorCheck {
  return {
    id,
    title,
    status,
    detail,
    ...(extra.remediation === undefined ? {} : { remediation: extra.remediation }),
    ...(extra.code === undefined ? {} : { code: extra.code }),
    ...(extra.facts === undefined ? {} : { facts: extra.facts }),
  };
}

/** Ends a message with a full stop unless it already ends with punctuation. */
export function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}
