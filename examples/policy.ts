/**
 * The least-privilege policy on its own: load `examples/policy/policy.yaml`,
 * decide a few operations (including bypass attempts, which are denied),
 * explain a decision, and watch the file — a bad edit keeps the last good
 * policy, a good edit is picked up.
 *
 * Run: `npx tsx examples/policy.ts`. Nothing is sent anywhere: these are the
 * decisions the guard makes before an operation leaves the process. Exits
 * non-zero if any decision differs from what is printed as expected.
 */
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicyFile, watchPolicyFile, type Action, type DecisionRequest, type FilePolicy, type PolicyReloadEvent } from '../src/policy/index.js';

const POLICY = join(dirname(fileURLToPath(import.meta.url)), 'policy', 'policy.yaml');
const ORDERS = 'spiffe://prod.example/ns/orders/sa/orders-api';
// `ns/reports/*` in the file matches exactly one segment after `reports/`.
const REPORTS = 'spiffe://prod.example/ns/reports/daily-report';
const DOCS = 'http:https://docs.internal:8443';
// Fixed times keep the office-hours rule deterministic: a Wednesday and a Saturday, 10:00 UTC.
const WEDNESDAY = new Date('2026-12-02T10:00:00Z');
const SATURDAY = new Date('2026-12-05T10:00:00Z');

let failures = 0;

function request(subject: string, system: DecisionRequest['system'], operation: string, resource: string, action: Action, now = WEDNESDAY, environment = 'prod'): DecisionRequest {
  return { subject, system, operation, accesses: [{ resource, action }], context: { now, environment } };
}

function show(policy: FilePolicy, label: string, req: DecisionRequest, expectAllowed: boolean): void {
  const d = policy.decide(req);
  const ok = d.allowed === expectAllowed;
  if (!ok) failures++;
  const verdict = d.allowed ? 'ALLOW' : 'DENY ';
  console.log(`${ok ? '✓' : '✗ UNEXPECTED'} ${verdict} ${label.padEnd(52)} ${d.code ?? ''}${d.ruleId === undefined ? '' : ` (${d.ruleId})`}${d.allowed ? '' : ` — ${d.reason}`}`);
}

function nextEvent(policy: FilePolicy, timeoutMs = 5000): Promise<PolicyReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no policy reload event within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = policy.events.on((event) => {
      clearTimeout(timer);
      sub.dispose();
      resolve(event);
    });
  });
}

async function main(): Promise<void> {
  // loadPolicyFile: read + validate once (CONFIG_INVALID on any error, naming the path of the bad field).
  const doc = await loadPolicyFile(POLICY);
  console.log(`${POLICY}: version ${doc.version}, ${doc.services.length} services, ${doc.services.reduce((n, s) => n + s.rules.length, 0)} rules\n`);

  // watchPolicyFile: compiled and re-read on change. Work on a copy so the edits below leave the example untouched.
  const dir = await mkdtemp(join(tmpdir(), 'secure-nosql-policy-example-'));
  const path = join(dir, 'policy.yaml');
  await copyFile(POLICY, path);
  const policy = await watchPolicyFile(path, { environment: 'prod', debounceMs: 50 });
  try {
    console.log('Decisions (environment prod, Wednesday 10:00 UTC unless noted):');
    show(policy, 'orders-api read mongodb:orders/items', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/items', 'read'), true);
    show(policy, 'orders-api write dynamodb:orders', request(ORDERS, 'dynamodb', 'PutItem', 'dynamodb:orders', 'write'), true);
    show(policy, 'orders-api read mongodb:orders/payment_secrets', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/payment_secrets', 'read'), false);
    show(policy, 'orders-api admin mongodb:orders/items (Wed)', request(ORDERS, 'mongodb', 'createIndex', 'mongodb:orders/items', 'admin'), true);
    show(policy, 'orders-api admin mongodb:orders/items (Sat)', request(ORDERS, 'mongodb', 'createIndex', 'mongodb:orders/items', 'admin', SATURDAY), false);
    show(policy, 'orders-api read mongodb:orders/items in dev', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/items', 'read', WEDNESDAY, 'dev'), false);
    show(policy, 'orders-api read docs /v1/docs/42', request(ORDERS, 'http', 'GET', `${DOCS}/v1/docs/42`, 'read'), true);
    show(policy, 'reports/* read mongodb:orders/items', request(REPORTS, 'mongodb', 'find', 'mongodb:orders/items', 'read'), true);
    show(policy, 'reports/* write mongodb:orders/items', request(REPORTS, 'mongodb', 'insert', 'mongodb:orders/items', 'write'), false);
    show(policy, '`*` is one segment: ns/reports/sa/x read', request('spiffe://prod.example/ns/reports/sa/x', 'mongodb', 'find', 'mongodb:orders/items', 'read'), false);
    show(policy, 'unknown service read mongodb:orders/items', request('spiffe://prod.example/ns/other/sa/x', 'mongodb', 'find', 'mongodb:orders/items', 'read'), false);

    console.log('\nBypass attempts (all denied):');
    show(policy, 'prefix look-alike mongodb:orders-evil/items', request(ORDERS, 'mongodb', 'find', 'mongodb:orders-evil/items', 'read'), false);
    show(policy, 'extra segment mongodb:orders/a/b', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/a/b', 'read'), false);
    show(policy, 'dot segments mongodb:orders/../billing', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/../billing', 'read'), false);
    show(policy, 'zero-width space payment\u200b_secrets', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/payment\u200b_secrets', 'read'), false);
    show(policy, 'Cyrillic "о" in mongodb:оrders/items', request(ORDERS, 'mongodb', 'find', 'mongodb:\u043erders/items', 'read'), false);
    show(policy, 'encoded traversal /v1/docs/%2e%2e/admin', request(ORDERS, 'http', 'GET', `${DOCS}/v1/docs/%2e%2e/admin`, 'read'), false);
    show(policy, 'double-encoded /v1/docs/%252e%252e/admin', request(ORDERS, 'http', 'GET', `${DOCS}/v1/docs/%252e%252e/admin`, 'read'), false);
    show(policy, 'write through a read-only rule (docs PUT)', request(ORDERS, 'http', 'PUT', `${DOCS}/v1/docs/42`, 'write'), false);
    show(policy, 'one denied access in a multi-resource operation', {
      subject: ORDERS,
      system: 'mongodb',
      operation: 'aggregate',
      accesses: [
        { resource: 'mongodb:orders/items', action: 'read' },
        { resource: 'mongodb:billing/copy', action: 'write' },
      ],
      context: { now: WEDNESDAY, environment: 'prod' },
    }, false);

    console.log('\nexplain(): why is createIndex denied on a Saturday?');
    const explanation = policy.explain(request(ORDERS, 'mongodb', 'createIndex', 'mongodb:orders/items', 'admin', SATURDAY));
    console.log(JSON.stringify(explanation, null, 2));
    if (explanation.decision.code !== 'condition') failures++;

    console.log('\nHot reload:');
    const original = await readFile(path, 'utf8');
    // Editors and Kubernetes replace files by rename; write a sibling, then rename over it.
    const replace = async (text: string): Promise<void> => {
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    };
    let event = nextEvent(policy);
    await replace(original.replace('actions: [read, write]              # read | write | admin', 'actions: [read, write, delete]'));
    const failed = await event;
    console.log(`bad edit → ${failed.type}${failed.type === 'reload_failed' ? `: ${failed.error.message}` : ''}`);
    if (failed.type !== 'reload_failed') failures++;
    show(policy, 'still the last good policy: read orders/items', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/items', 'read'), true);

    event = nextEvent(policy);
    await replace(original.replace('resources: ["mongodb:orders/payment_secrets"]', 'resources: ["mongodb:orders/payment_secrets", "mongodb:orders/items"]'));
    const reloaded = await event;
    console.log(`good edit (deny orders/items too) → ${reloaded.type}${reloaded.type === 'reloaded' ? ` (${reloaded.ruleCount} rules)` : ''}`);
    if (reloaded.type !== 'reloaded') failures++;
    show(policy, 'now denied: read orders/items', request(ORDERS, 'mongodb', 'find', 'mongodb:orders/items', 'read'), false);
  } finally {
    await policy.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.error(`\n${failures} unexpected result(s)`);
    process.exitCode = 1;
  }
}

await main();
