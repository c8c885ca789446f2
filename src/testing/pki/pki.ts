import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, signCertificate, type GeneratedKey, type KeyUsageName } from './generate.js';
import { writeAtomicSet, writeFilesOneByOne, type CertificateFiles, type OneByOneOptions, type PkiLayout } from './layout.js';

/** Options of {@link createTestPki}. */
export interface CreateTestPkiOptions {
  /** Working directory; the identity directory is created inside it. */
  readonly dir: string;
  /** SPIFFE trust domain, e.g. `example.test`. */
  readonly trustDomain: string;
  /** The service's SPIFFE ID; its leaf carries it as the only URI SAN. */
  readonly serviceId: string;
  /** File names of the identity directory. Default `cert-manager`. */
  readonly layout?: PkiLayout;
  /** Lifetime of the service leaf in days. Default 1. */
  readonly validityDays?: number;
  /** Extra DNS SANs on the service leaf. */
  readonly dnsNames?: readonly string[];
  /** Extra IP SANs on the service leaf. */
  readonly ipAddresses?: readonly string[];
}

/** What {@link TestPki.issue} puts in a certificate. */
export interface IssueOptions {
  /** The SPIFFE ID (first URI SAN). */
  readonly spiffeId?: string;
  /** Additional URI SANs. */
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Subject common name. Default derived from the first SAN. */
  readonly commonName?: string;
  /** Default: one minute ago. */
  readonly notBefore?: Date;
  /** Default: notBefore + validityDays of the PKI. */
  readonly notAfter?: Date;
  /** Lifetime in seconds (from notBefore); overrides the default lifetime. */
  readonly validitySeconds?: number;
  /** Issue a CA certificate (basicConstraints cA=true). Default false. */
  readonly isCA?: boolean;
  /** Key usage bits. Default `digitalSignature`, plus `keyCertSign` for a CA. */
  readonly keyUsage?: readonly KeyUsageName[];
  /** Extended key usages. Default `serverAuth` + `clientAuth`; `[]` leaves the extension out. */
  readonly extendedKeyUsage?: readonly ('serverAuth' | 'clientAuth')[];
  /** Signer: the root (`ca`, default), an intermediate (chain included in certificatePem) or an unrelated CA. */
  readonly signedBy?: 'ca' | 'intermediate' | 'untrusted';
}

/** A certificate issued by the test PKI, with its key (non-enumerable) and the bundle that trusts it. */
export interface IssuedCertificate extends CertificateFiles {
  /** The leaf alone, PEM. */
  readonly leafPem: string;
  /** Serial, upper-case hex (as node's X509Certificate reports it). */
  readonly serialNumber: string;
  readonly spiffeId: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Misissued sets for negative tests. */
export type BadVariant =
  | 'expired'
  | 'not-yet-valid'
  | 'ca-leaf'
  | 'mismatched-key'
  | 'wrong-trust-domain'
  | 'two-uri-sans'
  | 'untrusted-chain'
  | 'server-auth-only';

/** Where and how {@link TestPki.write} puts a set. */
export interface WriteOptions extends OneByOneOptions {
  /** Target directory. Default the identity directory. */
  readonly dir?: string;
  /** Default the PKI's layout. */
  readonly layout?: PkiLayout;
  /** `atomic` (kubelet `..data` swap, default) or `one-by-one` (spiffe-helper). */
  readonly mode?: 'atomic' | 'one-by-one';
}

/** A throw-away PKI for tests: a root CA, issued leaves, and a kubelet-style identity directory. */
export interface TestPki {
  readonly dir: string;
  /** The service's certificate directory (kubelet projected-volume layout). */
  readonly identityDir: string;
  readonly layout: PkiLayout;
  readonly trustDomain: string;
  readonly serviceId: string;
  /** Root CA certificate PEM (the bundle). */
  readonly caCertPem: string;
  /** Root CA key PEM; a prototype getter, so not enumerable and absent from JSON/inspect. */
  readonly caKeyPem: string;
  /** The service leaf currently in the identity directory. */
  readonly current: IssuedCertificate;
  /** Issues a leaf (or CA) certificate with a fresh key. */
  issue(options?: IssueOptions): Promise<IssuedCertificate>;
  /** A server certificate for `localhost`, `127.0.0.1` and `::1` (plus given SANs). */
  issueServer(options?: IssueOptions): Promise<IssuedCertificate>;
  /** A misissued set of the given kind, for the service's SPIFFE ID unless the variant changes it. */
  issueBad(variant: BadVariant): Promise<IssuedCertificate>;
  /** Writes a set into a directory in either layout, atomically or file by file. */
  write(files: CertificateFiles, options?: WriteOptions): Promise<void>;
  /** Kubelet-style atomic rotation of the identity directory to a fresh service leaf. */
  rotate(options?: IssueOptions): Promise<IssuedCertificate>;
  /** Spiffe-helper-style rotation: fresh service leaf written file by file with pauses. */
  writeFilesOneByOne(options?: OneByOneOptions & IssueOptions): Promise<IssuedCertificate>;
}

interface Signer {
  readonly commonName: string;
  readonly key: GeneratedKey;
  readonly pem: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

function hidePrivateKey<T extends object>(target: T, privateKeyPem: string): T & { readonly privateKeyPem: string } {
  // Non-enumerable so JSON.stringify and util.inspect never print the key.
  Object.defineProperty(target, 'privateKeyPem', { value: privateKeyPem, enumerable: false, writable: false });
  return target as T & { readonly privateKeyPem: string };
}

class TestPkiImpl implements TestPki {
  readonly dir: string;
  readonly identityDir: string;
  readonly layout: PkiLayout;
  readonly trustDomain: string;
  readonly serviceId: string;
  readonly caCertPem: string;
  #current: IssuedCertificate | undefined;
  readonly #root: Signer;
  readonly #untrusted: Signer;
  #intermediate: Signer | undefined;
  readonly #validityMs: number;
  readonly #dnsNames: readonly string[];
  readonly #ipAddresses: readonly string[];

  constructor(options: CreateTestPkiOptions, root: Signer, untrusted: Signer) {
    this.dir = options.dir;
    this.identityDir = join(options.dir, 'identity');
    this.layout = options.layout ?? 'cert-manager';
    this.trustDomain = options.trustDomain;
    this.serviceId = options.serviceId;
    this.caCertPem = root.pem;
    this.#root = root;
    this.#untrusted = untrusted;
    this.#validityMs = (options.validityDays ?? 1) * DAY;
    this.#dnsNames = options.dnsNames ?? [];
    this.#ipAddresses = options.ipAddresses ?? [];
  }

  get caKeyPem(): string {
    return this.#root.key.privateKeyPem;
  }

  get current(): IssuedCertificate {
    if (this.#current === undefined) throw new Error('test PKI not initialised');
    return this.#current;
  }

  async issue(options: IssueOptions = {}): Promise<IssuedCertificate> {
    const signer = options.signedBy === 'untrusted' ? this.#untrusted : options.signedBy === 'intermediate' ? await this.#getIntermediate() : this.#root;
    const key = await generateKey();
    const notBefore = options.notBefore ?? new Date(Date.now() - MINUTE);
    const notAfter =
      options.notAfter ?? new Date(notBefore.getTime() + (options.validitySeconds === undefined ? this.#validityMs : options.validitySeconds * 1000));
    const uris = [...(options.spiffeId === undefined ? [] : [options.spiffeId]), ...(options.uris ?? [])];
    const dnsNames = options.dnsNames ?? [];
    const isCA = options.isCA ?? false;
    const cn = options.commonName ?? dnsNames[0] ?? uris[0] ?? 'test-leaf';
    const { pem, serialNumber } = signCertificate({
      commonName: cn,
      publicKey: key.publicKey,
      issuer: { commonName: signer.commonName, privateKey: signer.key.privateKey, publicKey: signer.key.publicKey },
      notBefore,
      notAfter,
      isCA,
      dnsNames,
      ipAddresses: options.ipAddresses ?? [],
      uris,
      keyUsage: options.keyUsage ?? (isCA ? ['digitalSignature', 'keyCertSign', 'cRLSign'] : ['digitalSignature']),
      extendedKeyUsage: options.extendedKeyUsage ?? ['serverAuth', 'clientAuth'],
    });
    const chain = signer === this.#root || signer === this.#untrusted ? '' : signer.pem;
    return hidePrivateKey(
      { certificatePem: pem + chain, leafPem: pem, bundlePem: this.caCertPem, serialNumber, spiffeId: options.spiffeId, notBefore, notAfter },
      key.privateKeyPem,
    );
  }

  issueServer(options: IssueOptions = {}): Promise<IssuedCertificate> {
    return this.issue({
      ...options,
      dnsNames: ['localhost', ...(options.dnsNames ?? [])],
      ipAddresses: ['127.0.0.1', '::1', ...(options.ipAddresses ?? [])],
    });
  }

  async issueBad(variant: BadVariant): Promise<IssuedCertificate> {
    const id = this.serviceId;
    const now = Date.now();
    switch (variant) {
      case 'expired':
        return this.issue({ spiffeId: id, notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) });
      case 'not-yet-valid':
        return this.issue({ spiffeId: id, notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) });
      case 'ca-leaf':
        return this.issue({ spiffeId: id, isCA: true });
      case 'mismatched-key': {
        const a = await this.issue({ spiffeId: id });
        const b = await this.issue({ spiffeId: id });
        return hidePrivateKey({ ...a }, b.privateKeyPem);
      }
      case 'wrong-trust-domain':
        return this.issue({ spiffeId: id.replace(/^spiffe:\/\/[^/]+/, 'spiffe://other-domain.test') });
      case 'two-uri-sans':
        return this.issue({ spiffeId: id, uris: [`spiffe://${this.trustDomain}/second`] });
      case 'untrusted-chain':
        return this.issue({ spiffeId: id, signedBy: 'untrusted' });
      case 'server-auth-only':
        return this.issue({ spiffeId: id, extendedKeyUsage: ['serverAuth'] });
    }
  }

  async write(files: CertificateFiles, options: WriteOptions = {}): Promise<void> {
    const dir = options.dir ?? this.identityDir;
    const layout = options.layout ?? this.layout;
    if (options.mode === 'one-by-one') await writeFilesOneByOne(dir, files, layout, options);
    else await writeAtomicSet(dir, files, layout);
  }

  async rotate(options: IssueOptions = {}): Promise<IssuedCertificate> {
    const next = await this.#issueService(options);
    await writeAtomicSet(this.identityDir, next, this.layout);
    this.#current = next;
    return next;
  }

  async writeFilesOneByOne(options: OneByOneOptions & IssueOptions = {}): Promise<IssuedCertificate> {
    const next = await this.#issueService(options);
    await writeFilesOneByOne(this.identityDir, next, this.layout, options);
    this.#current = next;
    return next;
  }

  /** @internal */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.rotate();
  }

  #issueService(options: IssueOptions): Promise<IssuedCertificate> {
    return this.issue({
      spiffeId: this.serviceId,
      dnsNames: this.#dnsNames,
      ipAddresses: this.#ipAddresses,
      ...options,
    });
  }

  async #getIntermediate(): Promise<Signer> {
    if (this.#intermediate !== undefined) return this.#intermediate;
    const key = await generateKey();
    const commonName = `${this.trustDomain} Test Intermediate CA`;
    const { pem } = signCertificate({
      commonName,
      publicKey: key.publicKey,
      issuer: { commonName: this.#root.commonName, privateKey: this.#root.key.privateKey, publicKey: this.#root.key.publicKey },
      notBefore: new Date(Date.now() - MINUTE),
      notAfter: new Date(Date.now() + 30 * DAY),
      isCA: true,
      pathLength: 0,
      dnsNames: [],
      ipAddresses: [],
      uris: [],
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      extendedKeyUsage: [],
    });
    this.#intermediate = { commonName, key, pem };
    return this.#intermediate;
  }
}

async function createRoot(commonName: string, trustDomain: string): Promise<Signer> {
  const key = await generateKey();
  const { pem } = signCertificate({
    commonName,
    publicKey: key.publicKey,
    issuer: { commonName, privateKey: key.privateKey, publicKey: key.publicKey },
    notBefore: new Date(Date.now() - MINUTE),
    notAfter: new Date(Date.now() + 365 * DAY),
    isCA: true,
    dnsNames: [],
    ipAddresses: [],
    uris: [`spiffe://${trustDomain}`],
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    extendedKeyUsage: [],
  });
  return { commonName, key, pem };
}

/**
 * Creates a test PKI: an ECDSA P-256 root CA for `trustDomain`, a service leaf
 * whose only URI SAN is `serviceId`, written into `identityDir` the way the
 * kubelet projects a Secret (`..data` symlink swap).
 *
 * @example
 * ```ts
 * const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: 'spiffe://example.test/svc' });
 * const server = await pki.issueServer();
 * await pki.rotate();
 * ```
 */
export async function createTestPki(options: CreateTestPkiOptions): Promise<TestPki> {
  const root = await createRoot(`${options.trustDomain} Test Root CA`, options.trustDomain);
  const untrusted = await createRoot(`untrusted ${options.trustDomain} Test Root CA`, 'untrusted.test');
  const pki = new TestPkiImpl(options, root, untrusted);
  await pki.init();
  return pki;
}
