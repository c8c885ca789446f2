import { createHook } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCertificateSource } from '../../src/certificates/index.js';
import type { TestPki } from '../../src/testing/pki/index.js';
import { SERVICE_ID, freshPki, waitFor } from './fixtures.js';

const DEBOUNCE = 537;
const RECHECK = 1013;

describe('close() releases every handle', () => {
  let pki: TestPki;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await freshPki());
  });
  afterEach(async () => cleanup());

  it('leaves no FSWatcher or Timeout behind, even mid-debounce', async () => {
    // The source unrefs its handles, so getActiveResourcesInfo() would not show them: track them with async_hooks.
    const live = new Map<number, string>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === 'FSEVENTWRAP') live.set(id, type);
        // Only the source's timers (recognised by their distinctive delays), not the test runner's.
        const delay = (resource as { _idleTimeout?: number })._idleTimeout ?? 0;
        if (type === 'Timeout' && (delay === DEBOUNCE || delay === RECHECK || delay > 1_000_000)) live.set(id, type);
      },
      destroy(id) {
        live.delete(id);
      },
    });
    const sources = await (async () => {
      hook.enable();
      try {
        const created = await Promise.all(
          [1, 2, 3].map(() => loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, debounceMs: DEBOUNCE, recheckIntervalMs: RECHECK })),
        );
        await pki.rotate(); // arms the debounce timers
        await waitFor(() => [...live.values()].filter((t) => t === 'Timeout').length === 9, 5000, 'debounce timers');
        return created;
      } finally {
        hook.disable();
      }
    })();
    expect([...live.values()].filter((t) => t === 'FSEVENTWRAP')).toHaveLength(3);
    // per source: debounce + re-check interval + expiry timer
    expect([...live.values()].filter((t) => t === 'Timeout')).toHaveLength(9);
    hook.enable();
    for (const s of sources) await s.close();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    hook.disable();
    expect([...live.values()].filter((t) => t === 'FSEVENTWRAP')).toEqual([]);
    expect([...live.values()].filter((t) => t === 'Timeout')).toEqual([]);
    expect(sources[0]?.current().generation).toBe(1);
  });
});
