import { createHash } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { inspect } from 'node:util';
import type { CertificateGeneration } from './types.js';
import type { CertificateSet, ValidatedSet } from './validate.js';

/**
 * Builds the immutable generation object for a validated set. The private key
 * is a non-enumerable property, and `toJSON`/`util.inspect` show a summary, so
 * logging a generation never prints the key.
 * @internal
 */
export function createGeneration(generation: number, set: CertificateSet, valid: ValidatedSet): CertificateGeneration {
  const secureContext = createSecureContext({
    cert: set.certificatePem,
    key: set.privateKeyPem,
    ca: set.bundlePem,
    minVersion: 'TLSv1.2',
  });
  const summary = {
    generation,
    spiffeId: valid.spiffeId,
    serialNumber: valid.leaf.serialNumber,
    notBefore: valid.notBefore.toISOString(),
    notAfter: valid.notAfter.toISOString(),
    thumbprintSha256: createHash('sha256').update(valid.leaf.raw).digest('base64url'),
    paths: Object.freeze({ ...set.paths }),
  };
  const gen = {
    generation,
    certificatePem: set.certificatePem,
    bundlePem: set.bundlePem,
    secureContext,
    spiffeId: valid.spiffeId,
    notBefore: valid.notBefore,
    notAfter: valid.notAfter,
    thumbprintSha256: summary.thumbprintSha256,
    serialNumber: summary.serialNumber,
    paths: summary.paths,
  };
  Object.defineProperties(gen, {
    privateKeyPem: { value: set.privateKeyPem, enumerable: false },
    toJSON: { value: () => summary, enumerable: false },
    [inspect.custom]: { value: () => `CertificateGeneration ${inspect(summary)}`, enumerable: false },
  });
  return Object.freeze(gen) as unknown as CertificateGeneration;
}
