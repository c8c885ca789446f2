import { createHash, X509Certificate } from 'node:crypto';
import { SecureNosqlError } from '../errors/index.js';

/**
 * The SPKI pin of a certificate: base64 of the SHA-256 of its DER
 * SubjectPublicKeyInfo (the format of HPKP and `curl --pinnedpubkey`).
 *
 * @param cert - A PEM string (first certificate is used), DER bytes or an `X509Certificate`.
 */
export function spkiPin(cert: string | Buffer | X509Certificate): string {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/**
 * Checks a list of pins: each must be base64 of 32 bytes.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` naming the field and the pin index.
 */
export function validatePins(pins: unknown, field = 'pins'): readonly string[] {
  if (!Array.isArray(pins) || pins.length === 0) {
    throw new SecureNosqlError('CONFIG_INVALID', `${field} must be a non-empty array of base64 SHA-256 SPKI pins, e.g. ['47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=']`, { details: { field } });
  }
  return Object.freeze(
    pins.map((pin: unknown, i) => {
      if (typeof pin !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(pin) || Buffer.from(pin, 'base64').length !== 32) {
        throw new SecureNosqlError('CONFIG_INVALID', `${field}[${i}] is not a base64 SHA-256 SPKI pin (44 characters ending in "="); compute one with spkiPin(serverCertPem)`, {
          details: { field: `${field}[${i}]` },
        });
      }
      return pin;
    }),
  );
}
