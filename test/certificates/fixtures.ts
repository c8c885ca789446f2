import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, type CreateTestPkiOptions, type TestPki } from '../../src/testing/pki/index.js';

export const TRUST_DOMAIN = 'example.test';
export const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';

/** A fresh PKI in its own temp dir; call cleanup() in afterEach. */
export async function freshPki(extra: Partial<CreateTestPkiOptions> = {}): Promise<{ pki: TestPki; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-cert-'));
  const pki = await createTestPki({ dir, trustDomain: TRUST_DOMAIN, serviceId: SERVICE_ID, ...extra });
  return { pki, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Waits until `predicate` is true, polling every 10 ms; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
