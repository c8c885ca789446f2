import { readFile } from 'node:fs/promises';
import { validateCertificateSet, type CertificateSet, type ValidatedSet } from '../../certificates/index.js';
import { parseCertificates } from '../../certificates/pem.js';
import { isSecureNosqlError, type SecureNosqlError } from '../../errors/index.js';
import { check, sentence, type DoctorCheck } from '../report.js';
import type { CertificatePaths } from './files.js';

/** Fraction of the lifetime left below which the doctor warns (the library's own expiry warning fires at 80% used). */
export const EXPIRY_WARN_FRACTION = 0.2;

type RowId = 'cert.key-match' | 'cert.validity' | 'cert.chain' | 'cert.spiffe-id';
const TITLES: Readonly<Record<RowId, string>> = {
  'cert.key-match': 'key matches certificate',
  'cert.validity': 'certificate validity',
  'cert.chain': 'chain to trust bundle',
  'cert.spiffe-id': 'SPIFFE ID',
};
// The order validateCertificateSet checks in, which is also the order of the rows.
const ORDER: readonly RowId[] = ['cert.key-match', 'cert.validity', 'cert.chain', 'cert.spiffe-id'];

/** Which row an error of the library's validator belongs to. */
function rowOf(error: SecureNosqlError, paths: CertificatePaths): RowId | 'parse' {
  switch (error.code) {
    case 'CERT_KEY_MISMATCH':
      return 'cert.key-match';
    case 'CERT_EXPIRED':
      return 'cert.validity';
    case 'CERT_IDENTITY_MISMATCH':
      return 'cert.spiffe-id';
    default: {
      const path = error.details?.['path'];
      if (path === paths.key) return 'cert.key-match';
      // A certificate or bundle that does not parse stops every later check.
      if (/could not be parsed|contains no PEM|is empty|malformed/.test(error.message)) return 'parse';
      return 'cert.chain';
    }
  }
}

function remediationFor(id: RowId, error: SecureNosqlError, paths: CertificatePaths): string {
  switch (id) {
    case 'cert.key-match':
      return `${error.remediation} Re-mount ${paths.certificate} and ${paths.key} from the same Secret / rotation (a torn spiffe-helper write settles within seconds).`;
    case 'cert.validity':
      return `${error.remediation} If the dates look right, check this host's clock.`;
    case 'cert.spiffe-id':
      return `Set SECURE_NOSQL_SERVICE_ID / identity.serviceId to the ID the certificate carries, or fix the SPIRE registration entry / cert-manager Certificate uriSANs. ${error.remediation}`;
    case 'cert.chain':
      return error.remediation;
  }
}

/** Formats a duration compactly (`2d 3h`, `4h 10m`, `59s`); negative values count as zero. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

function validityRow(valid: ValidatedSet, now: number): DoctorCheck {
  const lifetime = valid.notAfter.getTime() - valid.notBefore.getTime();
  const left = valid.notAfter.getTime() - now;
  const fraction = lifetime > 0 ? left / lifetime : 0;
  const facts = {
    notBefore: valid.notBefore.toISOString(),
    notAfter: valid.notAfter.toISOString(),
    secondsToExpiry: Math.round(left / 1000),
    lifetimeLeftPercent: Math.round(fraction * 100),
  };
  const detail = `Expires in ${formatDuration(left)} (${valid.notAfter.toISOString()}), ${Math.round(fraction * 100)}% of its ${formatDuration(lifetime)} lifetime left.`;
  if (left <= 0) {
    // Within the validator's skew allowance but already past notAfter.
    return check('cert.validity', TITLES['cert.validity'], 'fail', `Expired at ${valid.notAfter.toISOString()}.`, {
      remediation: 'The certificate is not being renewed: check cert-manager / SPIRE and the rotation sidecar.',
      code: 'CERT_EXPIRED',
      facts,
    });
  }
  if (fraction < EXPIRY_WARN_FRACTION) {
    return check('cert.validity', TITLES['cert.validity'], 'warn', `${detail} Rotation is overdue.`, {
      remediation: 'Renewal normally happens by two thirds of the lifetime: check cert-manager (Certificate status, renewBefore) or the SPIRE agent / spiffe-helper is running.',
      facts,
    });
  }
  return check('cert.validity', TITLES['cert.validity'], 'pass', detail, { facts });
}

function passRow(id: RowId, valid: ValidatedSet, now: number, serviceId: string, paths: CertificatePaths): DoctorCheck {
  switch (id) {
    case 'cert.key-match':
      return check(id, TITLES[id], 'pass', `${paths.key} belongs to the certificate (serial ${valid.leaf.serialNumber}).`);
    case 'cert.validity':
      return validityRow(valid, now);
    case 'cert.chain':
      return check(id, TITLES[id], 'pass', `The certificate chains to ${paths.bundle} and allows TLS client authentication.`);
    case 'cert.spiffe-id':
      return check(id, TITLES[id], 'pass', `The certificate's URI SAN is ${serviceId}.`, { facts: { spiffeId: serviceId } });
  }
}

/** The outcome of the certificate checks. */
export interface CertificateCheckResult {
  readonly rows: readonly DoctorCheck[];
  /** True when the library's validator accepted the whole set. */
  readonly valid: boolean;
  /** The bundle PEM, when it could be read (the issuer probe trusts it even when the leaf is bad). */
  readonly bundlePem: string | undefined;
}

/**
 * Runs the library's own certificate validation (`validateCertificateSet`)
 * and spreads its verdict over four rows. The validator stops at the first
 * problem, so when the leaf is merely outside its validity window the set is
 * validated again with the tolerated skew widened to cover it, to still
 * report the chain and the SPIFFE ID; other failures leave later rows skipped.
 */
export async function checkCertificates(paths: CertificatePaths, serviceId: string, now = Date.now()): Promise<CertificateCheckResult> {
  const [certificatePem, privateKeyPem, bundlePem] = await Promise.all([
    readFile(paths.certificate, 'utf8'),
    readFile(paths.key, 'utf8'),
    readFile(paths.bundle, 'utf8'),
  ]);
  const set: CertificateSet = { certificatePem, privateKeyPem, bundlePem, paths };
  try {
    const valid = validateCertificateSet(set, { serviceId, now });
    return { rows: ORDER.map((id) => passRow(id, valid, now, serviceId, paths)), valid: true, bundlePem };
  } catch (error) {
    if (!isSecureNosqlError(error)) throw error;
    const failed = rowOf(error, paths);
    const rows: DoctorCheck[] = [];
    if (failed === 'parse') {
      rows.push(check('cert.parse', 'certificate files parse', 'fail', sentence(error.message), { remediation: error.remediation, code: error.code }));
      for (const id of ORDER) rows.push(check(id, TITLES[id], 'skip', 'Not checked: the certificate files do not parse.'));
      return { rows, valid: false, bundlePem };
    }
    const index = ORDER.indexOf(failed);
    let later: ValidatedSet | SecureNosqlError | undefined;
    if (failed === 'cert.validity') later = revalidateInsideWindow(set, serviceId, now);
    for (const [i, id] of ORDER.entries()) {
      if (i < index) {
        // Everything the validator checks before the failing step passed; these rows carry no facts of their own.
        rows.push(check(id, TITLES[id], 'pass', id === 'cert.key-match' ? `${paths.key} belongs to the certificate.` : 'Passed.'));
      } else if (i === index) {
        rows.push(check(id, TITLES[id], 'fail', sentence(error.message), { remediation: remediationFor(id, error, paths), code: error.code }));
      } else if (later === undefined) {
        rows.push(check(id, TITLES[id], 'skip', `Not checked: "${TITLES[failed]}" failed first.`));
      } else if (isSecureNosqlError(later)) {
        const laterRow = rowOf(later, paths);
        if (laterRow === id) rows.push(check(id, TITLES[id], 'fail', sentence(later.message), { remediation: remediationFor(id, later, paths), code: later.code }));
        else if (laterRow !== 'parse' && ORDER.indexOf(laterRow) > i) rows.push(check(id, TITLES[id], 'pass', 'Passed (checked with the validity window widened to now).'));
        else rows.push(check(id, TITLES[id], 'skip', `Not checked: "${TITLES[laterRow === 'parse' ? failed : laterRow]}" failed first.`));
      } else {
        rows.push(check(id, TITLES[id], 'pass', id === 'cert.spiffe-id' ? `The certificate's URI SAN is ${serviceId}.` : 'Passed (checked with the validity window widened to now).'));
      }
    }
    return { rows, valid: false, bundlePem };
  }
}

function revalidateInsideWindow(set: CertificateSet, serviceId: string, now: number): ValidatedSet | SecureNosqlError | undefined {
  try {
    const leaf = parseCertificates(set.certificatePem, set.paths.certificate, 'certificate')[0];
    if (leaf === undefined) return undefined;
    // Widen the tolerated skew just enough to cover the leaf at the real time, so the CAs are still judged at the real time.
    const distance = Math.max(Date.parse(leaf.validFrom) - now, now - Date.parse(leaf.validTo), 0);
    return validateCertificateSet(set, { serviceId, now, skewSeconds: Math.ceil(distance / 1000) + 1 });
  } catch (error) {
    return isSecureNosqlError(error) ? error : undefined;
  }
}
