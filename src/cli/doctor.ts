import { loadCertificateSource, type CertificateGeneration, type CertificateSource } from '../certificates/index.js';
import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import type { ServiceIdentityConfig, TokenConfig } from '../identity/index.js';
import { createTokenSource, type TokenSource } from '../tokens/index.js';
import { discoverIssuer } from '../tokens/discovery.js';
import { IssuerTransport } from '../tokens/issuer-transport.js';
import { checkCertificates, type CertificateCheckResult } from './checks/certificates.js';
import { checkKeyPermissions, checkMountedFiles } from './checks/files.js';
import { clockSkewRow, metadataRows, probeIssuer, reachableRow, unreachableRow, type IssuerProbe } from './checks/issuer.js';
import { checkToken, type AudienceSource } from './checks/tokens.js';
import { resolveDoctorConfig, type DoctorConfig, type DoctorConfigFile } from './config.js';
import { check, sentence, type DoctorCheck, type DoctorReport } from './report.js';
import { scrubSecrets } from './scrub.js';

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Environment variables to read SECURE_NOSQL_* from when no `config` is given (the CLI passes `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A JSON configuration file path, or a configuration object; replaces the environment. */
  readonly config?: string | ServiceIdentityConfig | DoctorConfigFile;
  /** Output format wanted by the caller; {@link renderDoctorReport} reads it, the checks do not. */
  readonly json?: boolean;
  /** Audiences to request a token for; replace SECURE_NOSQL_AUDIENCES when given. */
  readonly audiences?: readonly string[];
  /** Cancels the run; open sockets are closed. */
  readonly signal?: AbortSignal;
  /** Timeout of one issuer request, ms. Default 5,000. */
  readonly requestTimeoutMs?: number;
}

function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SecureNosqlError('ABORTED', 'The doctor run was aborted.', { cause: signal.reason });
}

function describeConfig(config: DoctorConfig): string {
  const id = config.identity;
  const where = 'dir' in id.certificates ? `certificates in ${id.certificates.dir}` : `certificate ${id.certificates.certFile}`;
  const issuer = id.tokens?.issuer === undefined ? 'no issuer' : `issuer ${id.tokens.issuer} (${id.tokens.clientAuth?.method ?? 'tls_client_auth'})`;
  const n = config.audiences.length;
  return `${id.serviceId}; ${where}; ${issuer}; ${n} audience${n === 1 ? '' : 's'}.`;
}

interface IssuerStage {
  readonly rows: DoctorCheck[];
  /** Why tokens cannot be requested from the issuer, or undefined when they can. */
  readonly unusable: string | undefined;
}

async function checkIssuer(
  identity: ServiceIdentityConfig,
  transport: IssuerTransport,
  bundlePath: string | undefined,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<IssuerStage> {
  const tokens = identity.tokens;
  const issuer = tokens?.issuer;
  if (issuer === undefined) return { rows: [], unusable: 'no issuer is configured' };
  let probe: IssuerProbe | undefined;
  const rows: DoctorCheck[] = [];
  try {
    probe = await probeIssuer(transport.current().agent, issuer, signal, timeoutMs);
    rows.push(reachableRow(issuer, probe));
  } catch (error) {
    if (signal.aborted) throw error;
    rows.push(unreachableRow(issuer, error, timeoutMs, bundlePath));
  }
  if (probe?.status === 200) {
    const allowHttp = tokens?.allowInsecureLoopback === true;
    rows.push(...(await metadataRows(issuer, () => discoverIssuer(transport.current().agent, new URL(issuer), issuer, allowHttp, signal, timeoutMs), probe, tokens?.clientAuth)));
  } else {
    rows.push(check('issuer.metadata', 'issuer metadata', 'skip', 'Not checked: the issuer did not serve its metadata.'));
  }
  rows.push(clockSkewRow(probe));
  const metadataOk = rows.some((r) => r.id === 'issuer.metadata' && r.status === 'pass');
  return { rows, unusable: probe?.status !== 200 ? 'the issuer is not reachable' : metadataOk ? undefined : 'the issuer metadata is not valid' };
}

/**
 * Builds the token source the way the factory does (`createTokenSource`:
 * token files for their audiences, the issuer for the rest), leaving out the
 * issuer when it cannot work: unreachable, invalid metadata, or no valid
 * certificate set.
 */
function audienceSources(
  config: DoctorConfig,
  certificates: CertificateSource | undefined,
  issuerUnusable: string | undefined,
  timeoutMs: number,
  owned: { close(): Promise<void> }[],
): (audience: string) => AudienceSource {
  const tokens = config.identity.tokens ?? {};
  const files = tokens.files ?? {};
  let unavailable: string | undefined;
  // Without an issuer the routing source itself explains an audience no file serves.
  if (tokens.issuer === undefined) unavailable = undefined;
  else if (issuerUnusable !== undefined) unavailable = issuerUnusable;
  else if (certificates === undefined) unavailable = 'the workload certificate set is not valid';
  const usable: TokenConfig = unavailable === undefined ? tokens : tokens.files === undefined ? {} : { files: tokens.files };
  let source: TokenSource | undefined;
  let failure: SecureNosqlError | undefined;
  try {
    const built = createTokenSource(usable, certificates, {
      serviceId: config.identity.serviceId,
      // One attempt each: the doctor reports what it sees rather than waiting out backoff.
      issuer: { attemptTimeoutMs: timeoutMs, retry: { maxAttempts: 1 } },
      files: { watch: false, attempts: 1 },
    });
    owned.push(built);
    source = built;
  } catch (error) {
    if (!isSecureNosqlError(error)) throw error;
    failure = error;
  }
  return (audience) => {
    const path = files[audience];
    const kind = path === undefined ? 'issuer' : `file:${path}`;
    if (failure !== undefined) return { source: undefined, kind, failure };
    if (path === undefined && unavailable !== undefined) return { source: undefined, kind, unavailable };
    return { source, kind };
  };
}

/**
 * Checks the configuration a service would run with: the mounted certificate
 * files (present, key permissions, key match, chain, SPIFFE ID, time to
 * expiry), the issuer (reachable, RFC 8414 metadata, auth method, clock
 * skew) and one token per audience (claims only). It reads the same
 * configuration as the library, never throws for a failed check (only
 * `ABORTED` when `signal` fires), never calls `process.exit`, and its report
 * never contains a token or key.
 *
 * @example
 * ```ts
 * const report = await runDoctor({ env: process.env, audiences: ['orders-db'] });
 * process.stdout.write(renderDoctorReport(report));
 * process.exitCode = report.ok ? 0 : 1;
 * ```
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const startedAt = new Date().toISOString();
  const signal = options.signal ?? new AbortController().signal;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const rows: DoctorCheck[] = [];
  const secrets = new Set<string>();
  const owned: { close(): Promise<void> }[] = [];
  let config: DoctorConfig | undefined;
  let configSource = options.config === undefined ? 'env' : typeof options.config === 'string' ? `file:${options.config}` : 'object';
  try {
    try {
      config = await resolveDoctorConfig({ ...options, ...(options.env === undefined ? {} : { env: options.env }) });
      configSource = config.source;
      rows.push(check('config', 'configuration', 'pass', describeConfig(config), { facts: { source: config.source, serviceId: config.identity.serviceId } }));
    } catch (error) {
      if (!isSecureNosqlError(error)) throw error;
      rows.push(check('config', 'configuration', 'fail', sentence(error.message), { remediation: error.remediation, code: error.code }));
    }
    if (config !== undefined) {
      stopIfAborted(signal);
      const identity = config.identity;
      const files = await checkMountedFiles(identity.certificates);
      rows.push(files.row);
      let certs: CertificateCheckResult | undefined;
      if (files.paths !== undefined) {
        rows.push(await checkKeyPermissions(files.paths.key));
        certs = await checkCertificates(files.paths, identity.serviceId);
        rows.push(...certs.rows);
      } else {
        for (const [id, title] of [['files.key-permissions', 'key file permissions'], ['cert', 'certificate checks']] as const) {
          rows.push(check(id, title, 'skip', 'Not checked: the certificate files are missing.'));
        }
      }
      // The library's own loader, as the factory runs it, provides the TLS material; it is only reached once the set validated.
      let source: CertificateSource | undefined;
      if (certs?.valid === true) {
        try {
          source = await loadCertificateSource(identity.certificates, { serviceId: identity.serviceId, recheckIntervalMs: 0, settleRetries: 0, signal });
          owned.push(source);
        } catch (error) {
          stopIfAborted(signal);
          if (!isSecureNosqlError(error)) throw error;
          rows.push(check('cert.load', 'certificate loading', 'fail', sentence(error.message), { remediation: error.remediation, code: error.code }));
        }
      }
      const generation: CertificateGeneration | undefined = source?.current();
      // Without a valid set the issuer is still probed (reachability, clock) trusting the bundle alone.
      const transport = new IssuerTransport({
        ...(source === undefined ? {} : { certificates: source }),
        ...(source === undefined && certs?.bundlePem !== undefined ? { ca: certs.bundlePem } : {}),
      });
      owned.push(transport);
      const issuer = await checkIssuer(identity, transport, files.paths?.bundle, signal, timeoutMs);
      rows.push(...issuer.rows);
      stopIfAborted(signal);
      if (config.audiences.length === 0) {
        rows.push(
          check('token', 'tokens', identity.tokens?.issuer === undefined ? 'skip' : 'warn', 'No audience is configured, so no token was requested.', {
            remediation: 'Pass --audience <name> (repeatable) or set SECURE_NOSQL_AUDIENCES=a,b to check a token for each store the service calls.',
          }),
        );
      } else {
        const sourceFor = audienceSources(config, source, issuer.unusable, timeoutMs, owned);
        for (const audience of config.audiences) {
          stopIfAborted(signal);
          rows.push(await checkToken(audience, sourceFor(audience), generation?.thumbprintSha256, signal, (s) => secrets.add(s)));
        }
      }
    }
  } finally {
    await Promise.all(owned.map((o) => o.close().catch(() => undefined)));
  }
  const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const row of rows) summary[row.status]++;
  const report: DoctorReport = {
    ok: summary.fail === 0,
    version: 1,
    startedAt,
    serviceId: config?.identity.serviceId,
    configSource,
    audiences: config?.audiences ?? [],
    summary,
    checks: rows,
  };
  return scrubSecrets(report, secrets);
}
