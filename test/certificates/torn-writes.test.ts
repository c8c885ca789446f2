import { X509Certificate, createPrivateKey } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCertificateSource, type CertificateEvent, type CertificateGeneration, type FileCertificateSource } from '../../src/certificates/index.js';
import { writeFilesOneByOne, type TestPki } from '../../src/testing/pki/index.js';
import { SERVICE_ID, freshPki, waitFor } from './fixtures.js';

function consistent(gen: CertificateGeneration): boolean {
  return new X509Certificate(gen.certificatePem).checkPrivateKey(createPrivateKey(gen.privateKeyPem));
}

describe('spiffe-helper style writes (file by file, non-atomic)', () => {
  let pki: TestPki;
  let cleanup: () => Promise<void>;
  let source: FileCertificateSource;
  beforeEach(async () => {
    ({ pki, cleanup } = await freshPki({ layout: 'spiffe-helper' }));
    // debounce shorter than the pause between files, so torn sets really are read
    source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 20, recheckIntervalMs: 0 });
  });
  afterEach(async () => {
    await source.close();
    await cleanup();
  });

  it('never publishes a torn set and settles on the new one', async () => {
    const published: CertificateGeneration[] = [];
    const events: CertificateEvent[] = [];
    source.on((e) => {
      events.push(e);
      if (e.type === 'rotated') published.push(e.current);
    });
    const serials: string[] = [];
    for (let i = 0; i < 3; i++) {
      const next = await pki.writeFilesOneByOne({ pauseMs: 120, order: i % 2 === 0 ? ['certificate', 'key', 'bundle'] : ['key', 'certificate', 'bundle'] });
      serials.push(next.serialNumber);
      await waitFor(() => source.current().serialNumber === next.serialNumber, 5000, `settled ${i}`);
    }
    expect(published.map((g) => g.serialNumber)).toEqual(serials);
    for (const gen of published) expect(consistent(gen)).toBe(true);
    expect(consistent(source.current())).toBe(true);
  });

  it('rejects a persistent torn set (new certificate, old key) with CERT_KEY_MISMATCH and keeps the old generation', async () => {
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    const good = source.current();
    const next = await pki.issue({ spiffeId: SERVICE_ID });
    // only the certificate is written: the writer "died" before the key
    await writeFilesOneByOne(pki.identityDir, { ...next, privateKeyPem: pki.current.privateKeyPem }, 'spiffe-helper', { order: ['certificate'] });
    await waitFor(() => events.some((e) => e.type === 'rejected'), 5000, 'rejected');
    const rejected = events.find((e) => e.type === 'rejected');
    expect(rejected?.type === 'rejected' && (rejected.error as { code?: string }).code).toBe('CERT_KEY_MISMATCH');
    expect(source.current()).toBe(good);
    expect(events.filter((e) => e.type === 'rotated')).toHaveLength(0);
    // the writer finishes: the key arrives and the set becomes consistent
    await writeFilesOneByOne(pki.identityDir, next, 'spiffe-helper', { order: ['key'] });
    await waitFor(() => source.current().serialNumber === next.serialNumber, 5000, 'settled');
    expect(consistent(source.current())).toBe(true);
  });
});

describe('expiring event', () => {
  let pki: TestPki;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await freshPki());
  });
  afterEach(async () => cleanup());

  it('emits expiring once when the leaf passes the configured fraction of its lifetime', async () => {
    const now = Date.now();
    // lifetime 10 s starting 4.5 s ago: the 50% mark is ~0.5 s away
    await pki.rotate({ notBefore: new Date(now - 4_500), notAfter: new Date(now + 5_500) });
    const source = await loadCertificateSource({ dir: pki.identityDir }, { expiringFraction: 0.5, recheckIntervalMs: 0, skewSeconds: 0 });
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    expect(events).toHaveLength(0);
    await waitFor(() => events.length > 0, 5000, 'expiring');
    const e = events[0];
    expect(e?.type).toBe('expiring');
    if (e?.type === 'expiring') {
      expect(e.current).toBe(source.current());
      expect(e.secondsToExpiry).toBeGreaterThan(0);
      expect(e.secondsToExpiry).toBeLessThanOrEqual(5);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toHaveLength(1);
    await source.close();
  });

  it('emits expiring right after load for a leaf already past 80% of its lifetime', async () => {
    const now = Date.now();
    await pki.rotate({ notBefore: new Date(now - 90_000), notAfter: new Date(now + 10_000) });
    const source = await loadCertificateSource({ dir: pki.identityDir }, { recheckIntervalMs: 0 });
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    await waitFor(() => events.length > 0, 2000, 'expiring');
    expect(events[0]?.type).toBe('expiring');
    await source.close();
  });

  it('does not emit expiring for a fresh leaf', async () => {
    const source = await loadCertificateSource({ dir: pki.identityDir }, { recheckIntervalMs: 0 });
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toHaveLength(0);
    await source.close();
  });
});
