// Reads the two X.509 extensions node:crypto does not expose in a usable form
// (keyUsage bits and the raw URI SANs) through the @peculiar/asn1-x509 schema.
// Everything else (validity, cA, extendedKeyUsage, chain checks) comes from
// node's X509Certificate.
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_keyUsage, id_ce_subjectAltName, KeyUsage, SubjectAlternativeName, type Extension } from '@peculiar/asn1-x509';

/** What this reader extracts from a certificate. @internal */
export interface CertificateExtensions {
  /** keyUsage bits (bit 0 = digitalSignature), or undefined when the extension is absent. */
  readonly keyUsage: readonly boolean[] | undefined;
  /** URI subject alternative names, in order. */
  readonly uris: readonly string[];
}

// keyUsage defines bits 0 (digitalSignature) to 8 (decipherOnly).
const KEY_USAGE_BIT_COUNT = 9;

function keyUsageBits(ext: Extension): boolean[] {
  const flags = AsnConvert.parse(ext.extnValue, KeyUsage).toNumber();
  return Array.from({ length: KEY_USAGE_BIT_COUNT }, (_, bit) => (flags & (1 << bit)) !== 0);
}

/** Reads keyUsage and URI SANs from a certificate's DER. Throws on malformed DER. @internal */
export function readExtensions(der: Uint8Array): CertificateExtensions {
  const cert = AsnConvert.parse(der, Certificate);
  let keyUsage: boolean[] | undefined;
  const uris: string[] = [];
  const extensions = cert.tbsCertificate.extensions;
  if (extensions === undefined) return { keyUsage, uris };
  for (const ext of extensions) {
    if (ext.extnID === id_ce_keyUsage) {
      keyUsage = keyUsageBits(ext);
    } else if (ext.extnID === id_ce_subjectAltName) {
      for (const name of AsnConvert.parse(ext.extnValue, SubjectAlternativeName)) {
        if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
      }
    }
  }
  return { keyUsage, uris };
}
