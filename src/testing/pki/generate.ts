import { createHash, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { id_ecdsaWithSHA256 } from '@peculiar/asn1-ecc';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

const generateKeyPairAsync = promisify(generateKeyPair);

/** An ECDSA P-256 key pair and its PKCS#8 PEM. @internal */
export interface GeneratedKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly privateKeyPem: string;
}

/** Generates an ECDSA P-256 key pair. @internal */
export async function generateKey(): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Key usage bits the test PKI can set. */
export type KeyUsageName = 'digitalSignature' | 'keyEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

const KEY_USAGE_FLAGS: Readonly<Record<KeyUsageName, KeyUsageFlags>> = {
  digitalSignature: KeyUsageFlags.digitalSignature,
  keyEncipherment: KeyUsageFlags.keyEncipherment,
  keyAgreement: KeyUsageFlags.keyAgreement,
  keyCertSign: KeyUsageFlags.keyCertSign,
  cRLSign: KeyUsageFlags.cRLSign,
};
const EKU_OIDS = { serverAuth: id_kp_serverAuth, clientAuth: id_kp_clientAuth } as const;
// id-at-commonName (RFC 5280 appendix A.1); asn1-x509 does not export the attribute OIDs.
const ID_AT_COMMON_NAME = '2.5.4.3';

/** What one certificate should contain. @internal */
export interface CertificateTemplate {
  /** Subject common name. */
  readonly commonName: string;
  readonly publicKey: KeyObject;
  readonly issuer: { readonly commonName: string; readonly privateKey: KeyObject; readonly publicKey: KeyObject };
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCA: boolean;
  readonly pathLength?: number;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly keyUsage: readonly KeyUsageName[];
  readonly extendedKeyUsage: readonly (keyof typeof EKU_OIDS)[];
}

function name(cn: string): Name {
  return new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: ID_AT_COMMON_NAME, value: new AttributeValue({ utf8String: cn }) })])]);
}

function spki(publicKey: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

function keyId(info: SubjectPublicKeyInfo): Buffer {
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
  return createHash('sha1').update(Buffer.from(info.subjectPublicKey)).digest();
}

function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function generalName(kind: 'dns' | 'ip' | 'uri', value: string): GeneralName {
  if (kind === 'dns') return new GeneralName({ dNSName: value });
  if (kind === 'uri') return new GeneralName({ uniformResourceIdentifier: value });
  // Checked here so a typo fails with the offending value rather than a converter error.
  if (isIP(value) === 0) throw new TypeError(`not an IP address: ${value}`);
  return new GeneralName({ iPAddress: value });
}

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer; // a copy, so no pooled Buffer slab leaks into the encoding
}

function extensions(t: CertificateTemplate, subject: SubjectPublicKeyInfo, issuer: SubjectPublicKeyInfo): Extensions {
  const basic = new BasicConstraints(t.isCA ? { cA: true, ...(t.pathLength === undefined ? {} : { pathLenConstraint: t.pathLength }) } : {});
  const list = [
    extension(id_ce_basicConstraints, true, basic),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId(subject))),
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId(issuer)) })),
  ];
  if (t.keyUsage.length > 0) {
    const flags = t.keyUsage.reduce<number>((acc, u) => acc | KEY_USAGE_FLAGS[u], 0);
    list.push(extension(id_ce_keyUsage, true, new KeyUsage(flags)));
  }
  if (t.extendedKeyUsage.length > 0) {
    list.push(extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage(t.extendedKeyUsage.map((u) => EKU_OIDS[u]))));
  }
  const names = [
    ...t.dnsNames.map((d) => generalName('dns', d)),
    ...t.ipAddresses.map((ip) => generalName('ip', ip)),
    ...t.uris.map((u) => generalName('uri', u)),
  ];
  if (names.length > 0) list.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
  return new Extensions(list);
}

/** Signs a certificate from a template with ECDSA-SHA256; returns PEM and upper-case hex serial. @internal */
export function signCertificate(t: CertificateTemplate): { pem: string; serialNumber: string } {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x10; // positive, fixed length
  const subjectKey = spki(t.publicKey);
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: arrayBuffer(serial),
    signature: new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA256 }), // parameters absent (RFC 5758 3.2)
    issuer: name(t.issuer.commonName),
    validity: new Validity({ notBefore: t.notBefore, notAfter: t.notAfter }),
    subject: name(t.commonName),
    subjectPublicKeyInfo: subjectKey,
    extensions: extensions(t, subjectKey, spki(t.issuer.publicKey)),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbsDer, { key: t.issuer.privateKey, dsaEncoding: 'der' });
  const certificate = new Certificate({
    tbsCertificate,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA256 }),
    signatureValue: arrayBuffer(signature),
  });
  const der = Buffer.from(AsnConvert.serialize(certificate));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return { pem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`, serialNumber: serial.toString('hex').toUpperCase() };
}
