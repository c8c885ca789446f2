import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicyFile, watchPolicyFile, type PolicyReloadEvent, type DecisionRequest } from '../../src/policy/index.js';
import { hasErrorCode } from '../../src/errors/index.js';

const svc = 'spiffe://prod.example/ns/orders/sa/orders-api';
const yamlFor = (collection: string): string => `version: 1\nservices:\n  - id: ${svc}\n    rules:\n      - id: rule-${collection}\n        resources: ["mongodb:orders/${collection}"]\n        actions: [read]\n`;
const find = (collection: string): DecisionRequest => ({ subject: svc, system: 'mongodb', operation: 'find', accesses: [{ resource: `mongodb:orders/${collection}`, action: 'read' }] });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'secure-nosql-policy-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function nextEvent(events: { on(l: (e: PolicyReloadEvent) => void): { dispose(): void } }): Promise<PolicyReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('no reload event within 5 s')); }, 5000);
    const sub = events.on((e) => {
      clearTimeout(timer);
      sub.dispose();
      resolve(e);
    });
  });
}

describe('policy file', () => {
  it('fails closed at startup: missing file, invalid YAML, invalid schema', async () => {
    await expect(loadPolicyFile(join(dir, 'missing.yaml'))).rejects.toSatisfy((e) => hasErrorCode(e, 'CONFIG_INVALID') && e.message.includes('ENOENT'));
    await writeFile(join(dir, 'bad.yaml'), 'version: 1\nservices: [\n');
    await expect(watchPolicyFile(join(dir, 'bad.yaml'))).rejects.toSatisfy((e) => hasErrorCode(e, 'CONFIG_INVALID') && e.message.includes('not valid YAML'));
    await writeFile(join(dir, 'schema.yaml'), yamlFor('items').replace('[read]', '[read, delete]'));
    await expect(watchPolicyFile(join(dir, 'schema.yaml'))).rejects.toSatisfy((e) => hasErrorCode(e, 'CONFIG_INVALID') && e.message.includes('services[0].rules[0].actions[1]: "delete"'));
  });

  it('hot reload: good → bad (keeps last good, emits) → good', async () => {
    const file = join(dir, 'policy.yaml');
    await writeFile(file, yamlFor('items'));
    const policy = await watchPolicyFile(file, { debounceMs: 20 });
    try {
      expect(policy.decide(find('items')).allowed).toBe(true);
      expect(policy.decide(find('lines')).allowed).toBe(false);

      let ev = nextEvent(policy.events);
      await writeFile(file, 'version: 1\nservices: {{{');
      const failed = await ev;
      expect(failed.type).toBe('reload_failed');
      if (failed.type === 'reload_failed') expect(failed.error.code).toBe('CONFIG_INVALID');
      expect(policy.decide(find('items')).allowed).toBe(true);

      ev = nextEvent(policy.events);
      // an atomic replace (write + rename), as config-map updates do
      await writeFile(join(dir, 'policy.yaml.tmp'), yamlFor('lines'));
      await rename(join(dir, 'policy.yaml.tmp'), file);
      const reloaded = await ev;
      expect(reloaded).toMatchObject({ type: 'reloaded', ruleCount: 1 });
      expect(policy.decide(find('lines')).allowed).toBe(true);
      expect(policy.decide(find('items')).allowed).toBe(false);
      expect(policy.explain(find('lines')).accesses[0]?.ruleId).toBe('rule-lines');

      ev = nextEvent(policy.events);
      await rm(file);
      expect((await ev).type).toBe('reload_failed');
      expect(policy.decide(find('lines')).allowed).toBe(true);
    } finally {
      await policy.close();
    }
  });
});
