import { X509Certificate, createPrivateKey } from 'node:crypto';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAYOUT_FILES, listPayloadDirs, type PkiLayout } from '../../src/testing/pki/index.js';
import { SERVICE_ID, freshPki } from './fixtures.js';

describe('createTestPki', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it.each<PkiLayout>(['cert-manager', 'spiffe-helper'])('lays out the identity directory like the kubelet (%s)', async (layout) => {
    const { pki, cleanup } = await freshPki({ layout, validityDays: 2 });
    cleanups.push(cleanup);
    const names = LAYOUT_FILES[layout];
    const payloads = await listPayloadDirs(pki.identityDir);
    expect(payloads).toHaveLength(1);
    expect(payloads[0]).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/);
    expect(await readlink(join(pki.identityDir, '..data'))).toBe(payloads[0]);
    for (const n of [names.certificate, names.key, names.bundle]) {
      expect((await lstat(join(pki.identityDir, n))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(pki.identityDir, n))).toBe(join('..data', n));
    }
    const leaf = new X509Certificate(await readFile(join(pki.identityDir, names.certificate)));
    expect(leaf.subjectAltName).toBe(`URI:${SERVICE_ID}`);
    expect(leaf.serialNumber).toBe(pki.current.serialNumber);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(pki.identityDir, names.key), 'utf8')))).toBe(true);
    expect(leaf.verify(new X509Certificate(pki.caCertPem).publicKey)).toBe(true);
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBe(2 * 86_400_000);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const before = payloads[0];
    const next = await pki.rotate();
    const after = await listPayloadDirs(pki.identityDir);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(new X509Certificate(await readFile(join(pki.identityDir, names.certificate))).serialNumber).toBe(next.serialNumber);
  });

  it('issues servers with DNS/IP SANs, intermediates, CA certificates and hides keys', async () => {
    const { pki, cleanup } = await freshPki();
    cleanups.push(cleanup);
    const server = await pki.issueServer({ spiffeId: 'spiffe://example.test/db', dnsNames: ['db.internal'] });
    expect(new X509Certificate(server.leafPem).subjectAltName).toBe('DNS:localhost, DNS:db.internal, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://example.test/db');
    const viaIntermediate = await pki.issue({ spiffeId: SERVICE_ID, signedBy: 'intermediate' });
    expect(viaIntermediate.certificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect((await pki.issue({ isCA: true })).leafPem).toBeTruthy();
    expect(new X509Certificate((await pki.issue({ isCA: true })).leafPem).ca).toBe(true);
    expect(Object.keys(server)).not.toContain('privateKeyPem');
    expect(Object.keys(pki)).not.toContain('caKeyPem');
    expect(pki.caKeyPem).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('writes files one by one, replacing the kubelet symlinks with regular files', async () => {
    const { pki, cleanup } = await freshPki({ layout: 'spiffe-helper' });
    cleanups.push(cleanup);
    const next = await pki.writeFilesOneByOne({ pauseMs: 5 });
    const names = LAYOUT_FILES['spiffe-helper'];
    expect((await lstat(join(pki.identityDir, names.certificate))).isFile()).toBe(true);
    expect(new X509Certificate(await readFile(join(pki.identityDir, names.certificate))).serialNumber).toBe(next.serialNumber);
    expect(pki.current).toBe(next);
  });
});
