import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCertificateSource, type CertificateEvent } from '../../src/certificates/index.js';
import type { TestPki } from '../../src/testing/pki/index.js';
import { SERVICE_ID, freshPki, waitFor } from './fixtures.js';

/** Every 40-character slice of the key body: a leak of any part of the key is caught. */
function fragments(pem: string): string[] {
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const out: string[] = [];
  for (let i = 0; i + 40 <= body.length; i += 20) out.push(body.slice(i, i + 40));
  return out;
}

function expectNoCanary(text: string, canary: readonly string[]): void {
  expect(text).not.toContain('PRIVATE KEY');
  for (const f of canary) expect(text).not.toContain(f);
}

describe('private keys never leak', () => {
  let pki: TestPki;
  let dir: string;
  let cleanup: () => Promise<void>;
  const captured: string[] = [];
  const restore: (() => void)[] = [];
  beforeEach(async () => {
    ({ pki, dir, cleanup } = await freshPki());
    captured.length = 0;
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        captured.push(String(chunk));
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      });
      restore.push(() => (stream.write = original));
    }
  });
  afterEach(async () => {
    for (const r of restore.splice(0)) r();
    await cleanup();
  });

  it('keeps a planted canary key out of errors, rejected events, generations and console output', async () => {
    const canaryPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const canary = fragments(canaryPem);
    const surfaces: string[] = [];
    const record = (value: unknown): void => {
      surfaces.push(String(value), JSON.stringify(value) ?? '', inspect(value, { depth: 10, showHidden: false }));
      if (value instanceof Error) surfaces.push(value.message, value.stack ?? '', inspect(value.cause));
    };

    // 1. the canary key next to a certificate it does not belong to
    const mismatched = join(dir, 'mismatched');
    await pki.write({ certificatePem: pki.current.certificatePem, privateKeyPem: canaryPem, bundlePem: pki.caCertPem }, { dir: mismatched });
    const e1 = await loadCertificateSource({ dir: mismatched }).catch((e: unknown) => e);
    expect((e1 as { code?: string }).code).toBe('CERT_KEY_MISMATCH');
    record(e1);

    // 2. the canary key damaged so it cannot be parsed
    const damaged = join(dir, 'damaged');
    await pki.write({ certificatePem: pki.current.certificatePem, privateKeyPem: canaryPem.replace(/\n(.{10})/, '\n!!$1'), bundlePem: pki.caCertPem }, { dir: damaged });
    const e2 = await loadCertificateSource({ dir: damaged }).catch((e: unknown) => e);
    expect((e2 as { code?: string }).code).toBe('CERT_INVALID');
    record(e2);

    // 3. the canary key put where the certificate belongs
    const swapped = join(dir, 'swapped');
    await pki.write({ certificatePem: canaryPem, privateKeyPem: pki.current.privateKeyPem, bundlePem: pki.caCertPem }, { dir: swapped });
    const e3 = await loadCertificateSource({ dir: swapped }).catch((e: unknown) => e);
    expect((e3 as { code?: string }).code).toBe('CERT_INVALID');
    record(e3);

    // 4. a rejected event raised by a rotation to a set holding the canary key
    const source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: 20, recheckIntervalMs: 0 });
    const events: CertificateEvent[] = [];
    source.on((e) => events.push(e));
    await pki.write({ certificatePem: (await pki.issue({ spiffeId: SERVICE_ID })).certificatePem, privateKeyPem: canaryPem, bundlePem: pki.caCertPem });
    await waitFor(() => events.some((e) => e.type === 'rejected'), 5000, 'rejected');
    for (const e of events) {
      record(e);
      if (e.type === 'rejected') record(e.error);
    }
    await source.close();

    for (const text of [...surfaces, captured.join('')]) expectNoCanary(text, canary);
  });

  it('a generation hides its own key from JSON and util.inspect but still exposes it to TLS code', async () => {
    const source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 });
    const gen = source.current();
    const key = fragments(pki.current.privateKeyPem);
    expect(gen.privateKeyPem).toBe(pki.current.privateKeyPem);
    expect(Object.keys(gen)).not.toContain('privateKeyPem');
    expect(Object.getOwnPropertyDescriptor(gen, 'privateKeyPem')?.enumerable).toBe(false);
    const json = JSON.stringify(gen);
    expect(json).toContain(gen.serialNumber);
    expectNoCanary(json, key);
    expectNoCanary(inspect(gen, { depth: 10 }), key);
    expectNoCanary(inspect({ wrapped: gen }, { depth: 10 }), key);
    expectNoCanary(JSON.stringify({ ...gen }), key);
    // the test PKI hides its keys too
    expectNoCanary(JSON.stringify(pki) + inspect(pki, { depth: 10 }) + JSON.stringify(pki.current) + inspect(pki.current), key);
    expect(JSON.stringify(pki)).not.toContain(fragments(pki.caKeyPem)[0]);
    await source.close();
  });
});
