import { parseArgs } from 'node:util';

/** Where the CLI writes and what it reads; the bin passes the process's own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

/** Exit status of a run with a failed check. */
export const EXIT_FAILED = 1;
/** Exit status of a usage error. */
export const EXIT_USAGE = 2;
/** Exit status when the run was interrupted (SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

const MAIN_USAGE = `Usage: secure-nosql <command> [options]

Commands:
  doctor    Check the workload identity configuration (certificates, issuer, tokens, clock)

Run \`secure-nosql doctor --help\` for its options.
`;

const DOCTOR_USAGE = `Usage: secure-nosql doctor [options]

Checks the configuration secure-nosql would run with, reading the same
SECURE_NOSQL_* environment variables (or --config file): mounted certificate
files (present, key permissions, key matches certificate, chain to the
bundle, SPIFFE ID, time to expiry), the token issuer (reachable, RFC 8414
metadata, auth method, clock skew) and one token per audience (claims shown,
never the token).

Options:
  --config <path>     JSON file: { "identity": { "serviceId", "certificates", "tokens" }, "audiences": [...] }
                      or the identity object alone. Default: SECURE_NOSQL_* variables.
  --audience <name>   Request a token for this audience (repeatable).
                      Default: SECURE_NOSQL_AUDIENCES (comma-separated) and the token files' audiences.
  --json              Print the report as JSON.
  --timeout <ms>      Timeout of one issuer request (default 5000).
  -h, --help          Show this help.

Exit status: 0 when no check failed (warnings allowed), 1 when a check failed, 2 on a usage error.
`;

function doctorArgs(args: readonly string[]): { config?: string; audiences?: string[]; json: boolean; timeoutMs?: number; help: boolean } {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      audience: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (positionals.length > 0) throw new TypeError(`Unexpected argument: ${positionals[0] ?? ''}`);
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('--timeout must be a positive number of milliseconds');
  }
  return {
    json: values.json,
    help: values.help,
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values.audience === undefined ? {} : { audiences: values.audience }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

/**
 * Runs the `secure-nosql` command line and resolves to the exit status; it
 * never calls `process.exit`, so it can be driven from tests.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout)(MAIN_USAGE);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (command !== 'doctor') {
    io.stderr(`secure-nosql: unknown command "${command}"\n\n${MAIN_USAGE}`);
    return EXIT_USAGE;
  }
  let args: ReturnType<typeof doctorArgs>;
  try {
    args = doctorArgs(rest);
  } catch (error) {
    io.stderr(`secure-nosql doctor: ${error instanceof Error ? error.message : String(error)}\n\n${DOCTOR_USAGE}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    io.stdout(DOCTOR_USAGE);
    return 0;
  }
  // Loaded on demand so `--help` and usage errors start fast.
  const [{ runDoctor }, { renderDoctorReport }] = await Promise.all([import('./doctor.js'), import('./format.js')]);
  let report: Awaited<ReturnType<typeof runDoctor>>;
  try {
    report = await runDoctor({
      env: io.env,
      json: args.json,
      ...(args.config === undefined ? {} : { config: args.config }),
      ...(args.audiences === undefined ? {} : { audiences: args.audiences }),
      ...(args.timeoutMs === undefined ? {} : { requestTimeoutMs: args.timeoutMs }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  } catch (error) {
    if (io.signal?.aborted !== true) throw error;
    io.stderr('secure-nosql doctor: interrupted\n');
    return EXIT_INTERRUPTED;
  }
  io.stdout(renderDoctorReport(report, { json: args.json }));
  return report.ok ? 0 : EXIT_FAILED;
}
