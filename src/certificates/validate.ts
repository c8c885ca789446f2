import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { SecureNosqlError } from '../errors/index.js';
import { readExtensions } from './der.js';
import { parseCertificates } from './pem.js';

/** The three PEM texts of a set and where they came from. */
export interface CertificateSet {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly bundlePem: string;
  readonly paths: { readonly certificate: string; readonly key: string; readonly bundle: string };
}

/** Options of {@link validateCertificateSet}. */
export interface ValidationOptions {
  /** When set, the leaf must carry exactly one URI SAN, equal to this SPIFFE ID. */
  readonly serviceId?: string | undefined;
  /** Clock skew tolerated on both ends of the validity window, seconds. Default 60. */
  readonly skewSeconds?: number | undefined;
  /** Current time, ms since epoch (tests). */
  readonly now?: number | undefined;
}

/** The facts a valid set yields. */
export interface ValidatedSet {
  readonly leaf: X509Certificate;
  readonly privateKey: KeyObject;
  readonly spiffeId: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const MAX_CHAIN_DEPTH = 8;

function err(code: 'CERT_INVALID' | 'CERT_EXPIRED' | 'CERT_KEY_MISMATCH' | 'CERT_IDENTITY_MISMATCH', message: string, path: string, remediation?: string): SecureNosqlError {
  return new SecureNosqlError(code, message, { details: { path }, ...(remediation === undefined ? {} : { remediation }) });
}

function within(cert: X509Certificate, now: number, skewMs: number): 'ok' | 'expired' | 'not-yet-valid' {
  if (now + skewMs < Date.parse(cert.validFrom)) return 'not-yet-valid';
  if (now - skewMs > Date.parse(cert.validTo)) return 'expired';
  return 'ok';
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function verifyChain(leaf: X509Certificate, intermediates: readonly X509Certificate[], roots: readonly X509Certificate[], now: number, skewMs: number): string | undefined {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const root = roots.find((r) => issuedBy(current, r));
    if (root !== undefined) {
      if (within(root, now, skewMs) !== 'ok') return `the trust bundle CA "${root.subject.replace(/\n/g, ', ')}" is outside its validity window (${root.validFrom} – ${root.validTo})`;
      return undefined;
    }
    const next = intermediates.find((i) => i !== current && issuedBy(current, i));
    if (next === undefined) return 'the certificate does not chain to any CA in the trust bundle';
    if (!next.ca) return `intermediate "${next.subject.replace(/\n/g, ', ')}" is not a CA certificate`;
    if (within(next, now, skewMs) !== 'ok') return `intermediate "${next.subject.replace(/\n/g, ', ')}" is outside its validity window (${next.validFrom} – ${next.validTo})`;
    current = next;
  }
  return `the chain is longer than ${MAX_CHAIN_DEPTH} certificates`;
}

/**
 * Validates one certificate set: the key parses and belongs to the leaf; the
 * leaf is within its validity window (± skew); it chains to the bundle through
 * any intermediates in the certificate file; it is not a CA and is usable for
 * TLS client authentication; and, when `serviceId` is set, its only URI SAN is
 * that SPIFFE ID. Messages name files and dates, never PEM content.
 *
 * @throws SecureNosqlError `CERT_INVALID`, `CERT_EXPIRED`, `CERT_KEY_MISMATCH` or `CERT_IDENTITY_MISMATCH`.
 */
export function validateCertificateSet(set: CertificateSet, options: ValidationOptions = {}): ValidatedSet {
  const now = options.now ?? Date.now();
  const skewMs = (options.skewSeconds ?? 60) * 1000;
  const { paths } = set;
  const chain = parseCertificates(set.certificatePem, paths.certificate, 'certificate');
  const leaf = chain[0];
  if (leaf === undefined) throw err('CERT_INVALID', `certificate file ${paths.certificate} is empty`, paths.certificate);
  const roots = parseCertificates(set.bundlePem, paths.bundle, 'trust bundle');

  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: set.privateKeyPem, format: 'pem' });
  } catch {
    // The cause is dropped on purpose: it is about the key material.
    throw err('CERT_INVALID', `private key file ${paths.key} could not be parsed as an unencrypted PEM private key`, paths.key, 'Check the key file is a PEM (PKCS#8, SEC1 or PKCS#1) private key without a passphrase and completely written.');
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw err('CERT_KEY_MISMATCH', `private key file ${paths.key} does not belong to the certificate in ${paths.certificate} (serial ${leaf.serialNumber})`, paths.key);
  }

  const window = within(leaf, now, skewMs);
  if (window !== 'ok') {
    const when = window === 'expired' ? `expired at ${new Date(leaf.validTo).toISOString()}` : `is not valid before ${new Date(leaf.validFrom).toISOString()}`;
    throw err('CERT_EXPIRED', `certificate in ${paths.certificate} (serial ${leaf.serialNumber}) ${when}; now is ${new Date(now).toISOString()} (skew ${options.skewSeconds ?? 60}s)`, paths.certificate);
  }

  if (leaf.ca) {
    throw err('CERT_INVALID', `certificate in ${paths.certificate} (serial ${leaf.serialNumber}) is a CA certificate; a workload leaf must have basicConstraints cA=false`, paths.certificate);
  }
  let ext;
  try {
    ext = readExtensions(leaf.raw);
  } catch {
    throw err('CERT_INVALID', `certificate in ${paths.certificate} has malformed extensions`, paths.certificate);
  }
  if (ext.keyUsage !== undefined && ext.keyUsage[0] !== true) {
    throw err('CERT_INVALID', `certificate in ${paths.certificate} (serial ${leaf.serialNumber}) lacks keyUsage digitalSignature, required for TLS client authentication`, paths.certificate);
  }
  const eku = leaf.keyUsage; // node's name for extendedKeyUsage; undefined when absent
  if (eku !== undefined && eku.length > 0 && !eku.includes('1.3.6.1.5.5.7.3.2') && !eku.includes('2.5.29.37.0')) {
    throw err('CERT_INVALID', `certificate in ${paths.certificate} (serial ${leaf.serialNumber}) has an extendedKeyUsage without clientAuth`, paths.certificate);
  }

  const chainProblem = verifyChain(leaf, chain.slice(1), roots, now, skewMs);
  if (chainProblem !== undefined) {
    throw err('CERT_INVALID', `certificate in ${paths.certificate} does not verify against the bundle ${paths.bundle}: ${chainProblem}`, paths.certificate, 'Mount the CA bundle that issued this certificate, and include intermediates after the leaf in the certificate file.');
  }

  if (ext.uris.length > 1) {
    throw err('CERT_IDENTITY_MISMATCH', `certificate in ${paths.certificate} has ${ext.uris.length} URI SANs; an X.509-SVID must have exactly one`, paths.certificate);
  }
  const spiffeId = ext.uris[0]?.startsWith('spiffe://') === true ? ext.uris[0] : undefined;
  if (options.serviceId !== undefined && spiffeId !== options.serviceId) {
    throw err(
      'CERT_IDENTITY_MISMATCH',
      `certificate in ${paths.certificate} identifies ${spiffeId ?? '(no SPIFFE ID)'}, but serviceId is ${options.serviceId}`,
      paths.certificate,
    );
  }
  return { leaf, privateKey, spiffeId, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
}
