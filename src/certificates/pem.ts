import { X509Certificate } from 'node:crypto';
import { SecureNosqlError } from '../errors/index.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Parses every CERTIFICATE block of a PEM file. Error messages name the file
 * and the block number, never the content.
 * @internal
 */
export function parseCertificates(pem: string, path: string, what: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new SecureNosqlError('CERT_INVALID', `${what} file ${path} contains no PEM CERTIFICATE block`, {
      details: { path },
      remediation: 'Check the file is the PEM certificate (not the key, not DER) and is completely written.',
    });
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new SecureNosqlError('CERT_INVALID', `${what} file ${path}: certificate #${i + 1} could not be parsed`, {
        details: { path },
        remediation: 'The file may be truncated or corrupt; check the writer (cert-manager, spiffe-helper) completed.',
      });
    }
  });
}
