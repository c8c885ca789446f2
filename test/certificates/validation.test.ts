import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCertificateSource } from '../../src/certificates/index.js';
import { isSecureNosqlError, type ErrorCode } from '../../src/errors/index.js';
import { LAYOUT_FILES, type BadVariant, type PkiLayout, type TestPki } from '../../src/testing/pki/index.js';
import { SERVICE_ID, freshPki } from './fixtures.js';

async function loadError(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    const source = await promise;
    await (source as { close(): Promise<void> }).close();
  } catch (error) {
    if (!isSecureNosqlError(error)) throw error;
    return { code: error.code, message: error.message };
  }
  throw new Error('expected the load to fail');
}

const CASES: readonly (readonly [BadVariant, ErrorCode])[] = [
  ['expired', 'CERT_EXPIRED'],
  ['not-yet-valid', 'CERT_EXPIRED'],
  ['mismatched-key', 'CERT_KEY_MISMATCH'],
  ['ca-leaf', 'CERT_INVALID'],
  ['wrong-trust-domain', 'CERT_IDENTITY_MISMATCH'],
  ['two-uri-sans', 'CERT_IDENTITY_MISMATCH'],
  ['untrusted-chain', 'CERT_INVALID'],
  ['server-auth-only', 'CERT_INVALID'],
];

describe.each<PkiLayout>(['cert-manager', 'spiffe-helper'])('certificate validation (%s layout)', (layout) => {
  let pki: TestPki;
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, dir, cleanup } = await freshPki({ layout }));
  });
  afterEach(async () => cleanup());

  it('loads the valid identity directory and names the SPIFFE ID, serial and paths', async () => {
    const source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 });
    const gen = source.current();
    expect(gen.generation).toBe(1);
    expect(gen.spiffeId).toBe(SERVICE_ID);
    expect(gen.serialNumber).toBe(pki.current.serialNumber);
    expect(gen.paths.certificate).toBe(join(pki.identityDir, LAYOUT_FILES[layout].certificate));
    expect(gen.thumbprintSha256).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await source.close();
  });

  it.each(CASES)('rejects a %s set with %s', async (variant, code) => {
    const target = join(dir, `bad-${variant}`);
    await pki.write(await pki.issueBad(variant), { dir: target });
    const error = await loadError(loadCertificateSource({ dir: target }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 }));
    expect(error.code).toBe(code);
    expect(error.message).toContain(target);
    expect(error.message).not.toContain('-----BEGIN');
  });
});

describe('certificate validation details', () => {
  let pki: TestPki;
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, dir, cleanup } = await freshPki());
  });
  afterEach(async () => cleanup());

  it('accepts a leaf issued by an intermediate that is in the certificate file', async () => {
    const target = join(dir, 'intermediate');
    await pki.write(await pki.issue({ spiffeId: SERVICE_ID, signedBy: 'intermediate' }), { dir: target });
    const source = await loadCertificateSource({ dir: target }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 });
    expect(source.current().spiffeId).toBe(SERVICE_ID);
    await source.close();
  });

  it('rejects an intermediate-issued leaf when the intermediate is missing (bad chain)', async () => {
    const target = join(dir, 'no-intermediate');
    const issued = await pki.issue({ spiffeId: SERVICE_ID, signedBy: 'intermediate' });
    await pki.write({ certificatePem: issued.leafPem, privateKeyPem: issued.privateKeyPem, bundlePem: issued.bundlePem }, { dir: target });
    const error = await loadError(loadCertificateSource({ dir: target }, { recheckIntervalMs: 0 }));
    expect(error.code).toBe('CERT_INVALID');
    expect(error.message).toMatch(/does not chain/);
  });

  it('names the dates when a certificate is expired, and honours the skew', async () => {
    const now = Date.now();
    const issued = await pki.issue({ spiffeId: SERVICE_ID, notBefore: new Date(now - 3_600_000), notAfter: new Date(now - 30_000) });
    const target = join(dir, 'skew');
    await pki.write(issued, { dir: target });
    const strict = await loadError(loadCertificateSource({ dir: target }, { skewSeconds: 0, recheckIntervalMs: 0 }));
    expect(strict.code).toBe('CERT_EXPIRED');
    expect(strict.message).toContain(issued.notAfter.toISOString().slice(0, 19));
    const lenient = await loadCertificateSource({ dir: target }, { skewSeconds: 120, recheckIntervalMs: 0 });
    expect(lenient.current().serialNumber).toBe(issued.serialNumber);
    await lenient.close();
  });

  it('requires keyUsage digitalSignature when keyUsage is present', async () => {
    const target = join(dir, 'ku');
    await pki.write(await pki.issue({ spiffeId: SERVICE_ID, keyUsage: ['keyEncipherment'] }), { dir: target });
    const error = await loadError(loadCertificateSource({ dir: target }, { recheckIntervalMs: 0 }));
    expect(error.code).toBe('CERT_INVALID');
    expect(error.message).toMatch(/digitalSignature/);
  });

  it('rejects a leaf without a SPIFFE ID when a serviceId is configured, and accepts it without', async () => {
    const target = join(dir, 'no-uri');
    await pki.write(await pki.issue({ dnsNames: ['orders.internal'] }), { dir: target });
    expect((await loadError(loadCertificateSource({ dir: target }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 }))).code).toBe('CERT_IDENTITY_MISMATCH');
    const source = await loadCertificateSource({ dir: target }, { recheckIntervalMs: 0 });
    expect(source.current().spiffeId).toBeUndefined();
    await source.close();
  });

  it('loads explicit files', async () => {
    const target = join(dir, 'explicit');
    await mkdir(target);
    const c = pki.current;
    await writeFile(join(target, 'c.pem'), c.certificatePem);
    await writeFile(join(target, 'k.pem'), c.privateKeyPem);
    await writeFile(join(target, 'b.pem'), c.bundlePem);
    const source = await loadCertificateSource(
      { certFile: join(target, 'c.pem'), keyFile: join(target, 'k.pem'), bundleFile: join(target, 'b.pem') },
      { serviceId: SERVICE_ID, recheckIntervalMs: 0 },
    );
    expect(source.current().serialNumber).toBe(c.serialNumber);
    await source.close();
  });

  it('reports a directory without a known layout, a missing key file and garbage PEM as CERT_INVALID with the path', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const e1 = await loadError(loadCertificateSource({ dir: empty }));
    expect(e1.code).toBe('CERT_INVALID');
    expect(e1.message).toContain(empty);

    const partial = join(dir, 'partial');
    await mkdir(partial);
    await writeFile(join(partial, 'tls.crt'), pki.current.certificatePem);
    await writeFile(join(partial, 'ca.crt'), pki.caCertPem);
    const e2 = await loadError(loadCertificateSource({ dir: partial }));
    expect(e2.code).toBe('CERT_INVALID');
    expect(e2.message).toContain(join(partial, 'tls.key'));

    const garbage = join(dir, 'garbage');
    await pki.write({ certificatePem: 'not a certificate', privateKeyPem: pki.current.privateKeyPem, bundlePem: pki.caCertPem }, { dir: garbage });
    expect((await loadError(loadCertificateSource({ dir: garbage }))).code).toBe('CERT_INVALID');

    const badKey = join(dir, 'bad-key');
    await pki.write({ certificatePem: pki.current.certificatePem, privateKeyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', bundlePem: pki.caCertPem }, { dir: badKey });
    const e4 = await loadError(loadCertificateSource({ dir: badKey }));
    expect(e4.code).toBe('CERT_INVALID');
    expect(e4.message).toContain(join(badKey, 'tls.key'));
  });

  it('refuses bad options with CONFIG_INVALID and honours an aborted signal', async () => {
    expect((await loadError(loadCertificateSource({ dir: pki.identityDir }, { expiringFraction: 1.5 }))).code).toBe('CONFIG_INVALID');
    expect((await loadError(loadCertificateSource({ dir: pki.identityDir }, { debounceMs: -1 }))).code).toBe('CONFIG_INVALID');
    expect((await loadError(loadCertificateSource({ dir: pki.identityDir }, { signal: AbortSignal.abort() }))).code).toBe('ABORTED');
  });
});
