import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCertificateSource, tlsConnectOptions, tlsConnector, type CertificateEvent, type FileCertificateSource } from '../../src/certificates/index.js';
import { listPayloadDirs, type TestPki } from '../../src/testing/pki/index.js';
import { connectOnce, startMtlsServer, type TestTlsServer } from '../helpers/tls-server.js';
import { SERVICE_ID, freshPki, waitFor } from './fixtures.js';

describe('hot rotation (kubelet ..data swap) with a real mTLS server', () => {
  let pki: TestPki;
  let cleanup: () => Promise<void>;
  let server: TestTlsServer;
  let source: FileCertificateSource;
  beforeEach(async () => {
    ({ pki, cleanup } = await freshPki());
    const serverCert = await pki.issueServer();
    server = await startMtlsServer({ cert: serverCert.certificatePem, key: serverCert.privateKeyPem, ca: pki.caCertPem });
    source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 30, recheckIntervalMs: 0 });
  });
  afterEach(async () => {
    await source.close();
    await server.close();
    await cleanup();
  });

  it('detects rotations 1, 2 … 10 while connections keep presenting the current generation, with zero failures', async () => {
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    let stop = false;
    let failures = 0;
    const attempts: { expected: string; index: number }[] = [];
    const connector = tlsConnector(source); // validated once, current generation per connection
    const loop = (async () => {
      while (!stop) {
        const gen = source.current();
        const index = server.clientSerials.length;
        try {
          await connectOnce(server.port, connector());
          attempts.push({ expected: gen.serialNumber, index });
        } catch {
          failures++;
        }
      }
    })();

    const issued: string[] = [pki.current.serialNumber];
    for (let i = 1; i <= 10; i++) {
      const next = await pki.rotate();
      issued.push(next.serialNumber);
      await waitFor(() => source.current().serialNumber === next.serialNumber, 5000, `rotation ${i}`);
      expect(source.current().generation).toBe(i + 1);
      // let a few connections use this generation
      const before = server.clientSerials.length;
      await waitFor(() => server.clientSerials.length >= before + 3, 5000, 'connections after rotation');
      // the kubelet swap removed the previous payload dir
      expect(await listPayloadDirs(pki.identityDir)).toHaveLength(1);
    }
    stop = true;
    await loop;

    expect(failures).toBe(0);
    const rotated = events.filter((e) => e.type === 'rotated');
    expect(rotated.map((e) => e.current.generation)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(rotated.map((e) => e.current.serialNumber)).toEqual(issued.slice(1));
    expect(events.filter((e) => e.type === 'rejected')).toHaveLength(0);
    // Every connection presented the generation that was current when it was opened.
    expect(attempts.length).toBeGreaterThan(30);
    for (const a of attempts) expect(server.clientSerials[a.index]).toBe(a.expected);
    // The server saw all 11 client certificates.
    expect(new Set(server.clientSerials)).toEqual(new Set(issued));
  });

  it('publishes a generation whose key belongs to its certificate and whose secure context is new', async () => {
    const first = source.current();
    await pki.rotate();
    await waitFor(() => source.current().generation === 2, 5000, 'rotation');
    const second = source.current();
    expect(second.secureContext).not.toBe(first.secureContext);
    expect(new X509Certificate(second.certificatePem).checkPrivateKey(createPrivateKey(second.privateKeyPem))).toBe(true);
    expect(second.notAfter.getTime()).toBeGreaterThan(Date.now());
  });

  it('keeps the last good generation and emits rejected when the files are deleted, then recovers', async () => {
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    const good = source.current();
    for (const name of await readdir(pki.identityDir)) await rm(join(pki.identityDir, name), { recursive: true, force: true });
    await waitFor(() => events.some((e) => e.type === 'rejected'), 5000, 'rejected event');
    const rejected = events.find((e) => e.type === 'rejected');
    expect(rejected?.type === 'rejected' && (rejected.error as { code?: string }).code).toBe('CERT_INVALID');
    expect(source.current()).toBe(good);
    // connections still work with the last good generation
    await connectOnce(server.port, tlsConnectOptions(source));
    expect(server.clientSerials.at(-1)).toBe(good.serialNumber);

    const next = await pki.rotate();
    await waitFor(() => source.current().serialNumber === next.serialNumber, 5000, 'recovery');
    expect(events.filter((e) => e.type === 'rotated')).toHaveLength(1);
  });

  it('rejects a bad set written by a rotation and keeps serving the last good one', async () => {
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    const good = source.current();
    await pki.write(await pki.issueBad('expired'));
    await waitFor(() => events.some((e) => e.type === 'rejected'), 5000, 'rejected event');
    const rejected = events.find((e) => e.type === 'rejected');
    expect(rejected?.type === 'rejected' && (rejected.error as { code?: string }).code).toBe('CERT_EXPIRED');
    expect(source.current()).toBe(good);
  });
});
