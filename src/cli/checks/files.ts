import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateLocation } from '../../identity/index.js';
import { check, type DoctorCheck } from '../report.js';

/** The three files of a certificate set, as the doctor found them. */
export interface CertificatePaths {
  readonly certificate: string;
  readonly key: string;
  readonly bundle: string;
}

// The two directory layouts the library reads (cert-manager Secrets, spiffe-helper output).
const LAYOUTS: readonly (CertificatePaths & { readonly name: string })[] = [
  { name: 'cert-manager', certificate: 'tls.crt', key: 'tls.key', bundle: 'ca.crt' },
  { name: 'spiffe-helper', certificate: 'svid.pem', key: 'svid_key.pem', bundle: 'bundle.pem' },
];

const TITLE = 'mounted files';

async function problemWith(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return `${path} is not a regular file`;
    if (s.size === 0) return `${path} is empty`;
    await access(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return `${path} does not exist`;
    if (code === 'EACCES' || code === 'EPERM') return `${path} is not readable by this process (uid ${process.getuid?.() ?? '?'})`;
    return `${path} cannot be read (${code ?? 'error'})`;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Checks the certificate, key and bundle files are present, regular,
 * non-empty and readable. Returns the resolved paths when they are.
 */
export async function checkMountedFiles(location: CertificateLocation): Promise<{ row: DoctorCheck; paths: CertificatePaths | undefined }> {
  let paths: CertificatePaths;
  let where: string;
  if ('dir' in location) {
    const dir = location.dir;
    const s = await stat(dir).catch((error: unknown) => error as { code?: string });
    if (!('isDirectory' in s) || !s.isDirectory()) {
      const reason = 'isDirectory' in s ? 'is not a directory' : s.code === 'ENOENT' ? 'does not exist' : `cannot be read (${s.code ?? 'error'})`;
      return {
        row: check('files.present', TITLE, 'fail', `The certificate directory ${dir} ${reason}.`, {
          remediation: `Mount the workload certificate volume (cert-manager Secret or spiffe-helper output) at ${dir}, or point SECURE_NOSQL_CERT_DIR / identity.certificates.dir at where it is mounted.`,
          code: 'CERT_INVALID',
          facts: { dir },
        }),
        paths: undefined,
      };
    }
    // Pick the layout whose certificate file exists; default to cert-manager to name the missing files.
    let layout = LAYOUTS[0] as (typeof LAYOUTS)[number];
    for (const candidate of LAYOUTS) {
      if (await exists(join(dir, candidate.certificate))) {
        layout = candidate;
        break;
      }
    }
    paths = { certificate: join(dir, layout.certificate), key: join(dir, layout.key), bundle: join(dir, layout.bundle) };
    where = `${dir} (${layout.name} layout)`;
  } else {
    paths = { certificate: location.certFile, key: location.keyFile, bundle: location.bundleFile };
    where = 'the configured files';
  }
  const problems = (await Promise.all([paths.certificate, paths.key, paths.bundle].map(problemWith))).filter((p) => p !== undefined);
  const facts = { certificate: paths.certificate, key: paths.key, bundle: paths.bundle };
  if (problems.length > 0) {
    return {
      row: check('files.present', TITLE, 'fail', `${problems.join('; ')}.`, {
        remediation:
          'dir' in location
            ? `The directory must hold tls.crt, tls.key and ca.crt (cert-manager) or svid.pem, svid_key.pem and bundle.pem (spiffe-helper): check the volume mount and that the issuer has written the certificate.`
            : 'Fix SECURE_NOSQL_CERT_FILE / KEY_FILE / BUNDLE_FILE (identity.certificates.certFile/keyFile/bundleFile) or the volume that should provide them.',
        code: 'CERT_INVALID',
        facts,
      }),
      paths: undefined,
    };
  }
  return { row: check('files.present', TITLE, 'pass', `Certificate, key and bundle are readable in ${where}.`, { facts }), paths };
}

/**
 * Checks the private key file is not readable by other users: world access
 * fails, group access warns (Kubernetes `defaultMode: 0440` with `fsGroup`
 * is a legitimate setup).
 */
export async function checkKeyPermissions(keyPath: string): Promise<DoctorCheck> {
  const title = 'key file permissions';
  let mode: number;
  try {
    // stat follows the kubelet's `..data` symlinks to the real file.
    mode = (await stat(keyPath)).mode & 0o777;
  } catch (error) {
    return check('files.key-permissions', title, 'fail', `Cannot stat ${keyPath} (${(error as { code?: string }).code ?? 'error'}).`, {
      remediation: 'Check the key file exists and its directory is searchable by this process.',
    });
  }
  const octal = `0${mode.toString(8).padStart(3, '0')}`;
  const facts = { path: keyPath, mode: octal };
  const fix = `Run \`chmod 600 ${keyPath}\` (or 400); on Kubernetes set \`defaultMode: 0400\` on the Secret or projected volume (0440 with fsGroup if a sidecar must share it).`;
  if ((mode & 0o007) !== 0) {
    return check('files.key-permissions', title, 'fail', `The private key ${keyPath} is accessible by every user on the host (mode ${octal}).`, {
      remediation: fix,
      facts,
    });
  }
  if ((mode & 0o070) !== 0) {
    return check('files.key-permissions', title, 'warn', `The private key ${keyPath} is accessible by its group (mode ${octal}).`, {
      remediation: `Unless a sidecar in the same group needs it: ${fix}`,
      facts,
    });
  }
  return check('files.key-permissions', title, 'pass', `The private key is readable by its owner only (mode ${octal}).`, { facts });
}
