/**
 * `npm run demo`: a narrated end-to-end tour of secure-nosql against the
 * bundled fixtures (no cloud, no database binaries, everything on 127.0.0.1).
 *
 * It starts a test PKI, a mock OAuth issuer + AWS STS, a document API, a
 * MongoDB wire-protocol server and a DynamoDB gateway; registers the real
 * OpenTelemetry SDK with a span printer; writes audit records as JSON lines;
 * then walks through reads and writes on every store, a certificate rotation,
 * a policy denial, a refused retry on an authorization failure, a stale token
 * refreshed once and a policy explanation. Every step checks what it claims;
 * a failed check exits non-zero (CI runs this).
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { fanOutAuditSink, JsonLinesAuditSink, MemoryAuditSink } from '../src/audit/index.js';
import type { CertificateRotatedEvent } from '../src/certificates/types.js';
import { isSecureNosqlError, type SecureNosqlError } from '../src/errors/index.js';
import { createSecureClientFactory } from '../src/factory.js';
import { startFixtureStack } from '../test/fixtures/stack.js';

// The AWS SDK warns that its 2027 releases need Node 22; that is noise in a demo on Node 20.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

// ── narration helpers ────────────────────────────────────────────────────────
let stepNo = 0;
function step(title: string): void {
  stepNo++;
  console.log(`\n━━ ${stepNo}. ${title}`);
}
function say(text: string): void {
  console.log(`   ${text}`);
}
class DemoCheckFailed extends Error {}
/** A claim the demo makes; a false one fails the run. */
function check(ok: boolean, claim: string): void {
  if (!ok) throw new DemoCheckFailed(`expectation failed: ${claim}`);
  console.log(`   ✓ ${claim}`);
}
async function secureErrorOf(work: Promise<unknown>): Promise<SecureNosqlError> {
  try {
    await work;
  } catch (error) {
    if (isSecureNosqlError(error)) return error;
    throw error;
  }
  throw new DemoCheckFailed('expected the operation to fail with a SecureNosqlError, but it succeeded');
}

// ── OpenTelemetry: the real SDK, printing each finished span on one line ─────
const SHOWN_ATTRIBUTES = /^(secure_nosql\.|db\.operation|db\.collection|db\.system|http\.request\.method|url\.template|error\.type)/;
function printSpan(span: ReadableSpan): void {
  const status = span.status.code === SpanStatusCode.ERROR ? 'ERROR' : span.status.code === SpanStatusCode.OK ? 'OK' : 'UNSET';
  const attrs = Object.entries(span.attributes)
    .filter(([k]) => SHOWN_ATTRIBUTES.test(k))
    .map(([k, v]) => `${k.replace(/^secure_nosql\./, 'sn.')}=${String(v)}`)
    .join(' ');
  const events = span.events.length === 0 ? '' : ` events=[${span.events.map((e) => e.name).join(',')}]`;
  console.log(`   ⟡ span "${span.name}" ${SpanKind[span.kind]} ${status} ${attrs}${events} trace=${span.spanContext().traceId.slice(0, 8)}`);
}
const spanPrinter: SpanProcessor = {
  onStart: () => undefined,
  onEnd: printSpan,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/**
 * The stream behind the real JsonLinesAuditSink: each JSON line it writes is
 * parsed back and shown compactly (the service, stated once above, and the
 * timestamp are left out; the trace id is shortened to match the span).
 */
const AUDIT_HIDDEN = new Set(['time', 'service', 'kind', 'traceId']);
function auditPrinter(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        const fields = Object.entries(record)
          .filter(([k]) => !AUDIT_HIDDEN.has(k))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
        const traceId = record['traceId'];
        console.log(`   ▸ audit ${String(record['kind'])} ${fields.join(' ')}${typeof traceId === 'string' ? ` trace=${traceId.slice(0, 8)}` : ''}`);
      }
      callback();
    },
  });
}

function upper(serial: string): string {
  return serial.toUpperCase();
}

async function main(): Promise<void> {
  const started = Date.now();
  step('Starting the fixtures: test PKI, mock issuer + STS, document API, MongoDB wire server, DynamoDB gateway');
  const stack = await startFixtureStack();
  say(`service identity   ${stack.serviceId}`);
  say(`certificates       ${stack.pki.identityDir} (serial ${stack.pki.current.serialNumber})`);
  say(`issuer             ${stack.issuer.url}   STS ${stack.dynamo.stsEndpoint}`);
  say(`document API       ${stack.docs.origin}   MongoDB ${stack.mongo.uri}   DynamoDB ${stack.dynamo.endpoint}`);

  const provider = new BasicTracerProvider({ spanProcessors: [spanPrinter] });
  trace.setGlobalTracerProvider(provider);
  const memory = new MemoryAuditSink();
  const jsonLines = new JsonLinesAuditSink(auditPrinter());
  const audit = fanOutAuditSink(jsonLines, memory);

  const policy = {
    version: 1,
    services: [
      {
        id: stack.serviceId,
        rules: [
          { id: 'orders-mongo-rw', resources: ['mongodb:orders/*'], actions: ['read', 'write'] },
          { id: 'orders-dynamo-rw', resources: ['dynamodb:orders'], actions: ['read', 'write'] },
          { id: 'docs-rw', resources: [`http:${stack.docs.origin}/v1/docs/*`], actions: ['read', 'write'] },
          { id: 'no-payment-secrets', effect: 'deny', resources: ['mongodb:orders/payment_secrets'], actions: ['read', 'write', 'admin'] },
        ],
      },
    ],
  };

  const secure = await createSecureClientFactory({ identity: stack.identity, policy, audit });
  const closeAll = async (): Promise<void> => {
    await secure.close();
    await audit.close();
    await stack.close();
    await provider.shutdown();
    trace.disable();
  };
  try {
    step('Creating the factory: certificates loaded and watched, token cache, policy compiled, guard pipeline');
    say(`policy rules: ${policy.services[0]?.rules.map((r) => r.id).join(', ')} (default deny)`);
    say('spans print as ⟡, audit records (the real JsonLinesAuditSink) as ▸');
    const mongo = await secure.mongodb({ uri: stack.mongo.uri, audience: stack.mongo.audience });
    const items = mongo.db().collection<{ sku: string; qty: number }>('items');
    const ddb = DynamoDBDocumentClient.from(
      await secure.dynamodb({ region: stack.dynamo.region, roleArn: stack.dynamo.roleArn, stsEndpoint: stack.dynamo.stsEndpoint, endpoint: stack.dynamo.endpoint }),
    );
    const docs = secure.http({ origin: stack.docs.origin, audience: stack.docs.audience, serverId: stack.docs.serverId, pins: [stack.docs.pin] });
    const api = stack.docs.server;

    step('MongoDB: insert and read back (MONGODB-OIDC with a token for audience "orders-db", over mTLS)');
    await items.insertOne({ sku: 'a1', qty: 2 });
    const found = await items.findOne({ sku: 'a1' }, { projection: { _id: 0 } });
    say(`findOne → ${JSON.stringify(found)}`);
    check(found?.qty === 2, 'the document written is read back');

    step('DynamoDB: PutItem and GetItem (web-identity token → STS AssumeRoleWithWebIdentity → SigV4 over mTLS)');
    await ddb.send(new PutCommand({ TableName: 'orders', Item: { id: 'o-1', sku: 'a1', quantity: 2 } }));
    const { Item } = await ddb.send(new GetCommand({ TableName: 'orders', Key: { id: 'o-1' } }));
    say(`GetItem → ${JSON.stringify(Item)}`);
    check(Item?.quantity === 2, 'the item written is read back');
    check(stack.issuer.requestCount('sts') === 1, 'one STS call served both requests');

    step('HTTP document API: PUT and GET (certificate-bound bearer token for audience "docs-api", server checked by SPIFFE ID + pin)');
    const put = await docs.request({ method: 'PUT', path: '/v1/docs/42', body: JSON.stringify({ sku: 'a1', quantity: 2 }), route: '/v1/docs/:id' });
    await put.body.dump();
    const get = await docs.request({ method: 'GET', path: '/v1/docs/42', route: '/v1/docs/:id' });
    const body = (await get.body.json()) as { quantity?: number };
    say(`PUT → ${put.statusCode}, GET → ${get.statusCode} ${JSON.stringify(body)}`);
    check(put.statusCode === 201 && get.statusCode === 200 && body.quantity === 2, 'the document written is read back');
    say(`token requests at the issuer so far: ${stack.issuer.requestCount('token')} (one per audience, then cached)`);

    step('Certificate rotation: the mounted files change; the next connections present the new certificate');
    const oldSerial = upper(stack.pki.current.serialNumber);
    const rotated = new Promise<CertificateRotatedEvent>((resolve, reject) => {
      // Bounded, so a missed event fails the demo instead of hanging CI.
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new DemoCheckFailed("expectation failed: a 'rotated' event within 10 s"));
      }, 10_000);
      const sub = secure.certificates.on((event) => {
        if (event.type === 'rotated') {
          clearTimeout(timer);
          sub.dispose();
          resolve(event);
        }
      });
    });
    const issued = await stack.pki.rotate();
    const event = await rotated;
    say(`'rotated' event: generation ${event.previous.generation} → ${event.current.generation}, serial ${upper(event.previous.serialNumber)} → ${upper(event.current.serialNumber)}`);
    check(upper(event.previous.serialNumber) === oldSerial && upper(event.current.serialNumber) === upper(issued.serialNumber), 'the event carries the old and the new serial');
    const afterRotation = await docs.request({ method: 'GET', path: '/v1/docs/42', route: '/v1/docs/:id' });
    await afterRotation.body.dump();
    say(`document API saw client certificate ${api.requestSerials.at(-1) ?? '?'} on the next request`);
    check(api.requestSerials.at(-1) === upper(issued.serialNumber), 'HTTP: the next request presented the new certificate');
    for (let i = 0; i < 250 && mongo.certificateGeneration < event.current.generation; i++) await sleep(20);
    await items.findOne({ sku: 'a1' });
    const mongoSaw = stack.mongo.server.presentedCertificates().filter((c) => upper(c.serialNumber) === upper(issued.serialNumber)).length;
    say(`MongoDB client is on certificate generation ${mongo.certificateGeneration}; connections with the new certificate: ${mongoSaw}`);
    check(mongoSaw > 0, 'MongoDB: new connections presented the new certificate');

    step('Policy denial: decided locally, nothing is sent');
    const mongoBefore = stack.mongo.server.dataCommandCount();
    const denied = await secureErrorOf(mongo.db().collection('payment_secrets').findOne({}));
    say(`find on orders.payment_secrets → ${denied.code}: ${denied.message}`);
    say(`MongoDB data commands before/after: ${mongoBefore}/${stack.mongo.server.dataCommandCount()}`);
    check(denied.code === 'POLICY_DENIED' && stack.mongo.server.dataCommandCount() === mongoBefore, 'denied by rule no-payment-secrets; the server saw nothing');
    const httpBefore = api.requestCount();
    const traversal = await secureErrorOf(docs.request({ method: 'GET', path: '/v1/docs/../admin' }));
    say(`GET /v1/docs/../admin → ${traversal.code}: ${traversal.message}`);
    const encoded = await secureErrorOf(docs.request({ method: 'GET', path: '/v1/docs/%2e%2e/admin' }));
    say(`GET /v1/docs/%2e%2e/admin → ${encoded.code} (an encoded dot segment is refused outright)`);
    say(`document API requests before/after: ${httpBefore}/${api.requestCount()}`);
    check(traversal.code === 'POLICY_DENIED' && encoded.code === 'POLICY_DENIED' && api.requestCount() === httpBefore, 'path-traversal bypasses are denied; nothing sent');

    step('Refused retry: the store says "not authorized" — retrying cannot help, so it is not retried');
    const deletesBefore = stack.dynamo.gateway.requestCount('DeleteItem');
    const refused = await secureErrorOf(ddb.send(new DeleteItemCommand({ TableName: 'orders', Key: { id: { S: 'o-1' } } })));
    const deletes = stack.dynamo.gateway.requestCount('DeleteItem') - deletesBefore;
    say(`DeleteItem (policy allows write, the IAM role lacks DeleteItem) → AccessDeniedException → ${refused.code}; requests sent: ${deletes}`);
    check(refused.code === 'ACCESS_DENIED' && deletes === 1, 'DynamoDB: ACCESS_DENIED after exactly 1 attempt');
    api.setPermissions({ [stack.serviceId]: ['read'] });
    const putsBefore = api.requestCount();
    const forbidden = await secureErrorOf(docs.request({ method: 'PUT', path: '/v1/docs/43', body: '{}', route: '/v1/docs/:id' }));
    const puts = api.requestCount() - putsBefore;
    api.setPermissions(undefined);
    say(`PUT with a read-only grant → 403 → ${forbidden.code}; requests sent: ${puts}`);
    check(forbidden.code === 'ACCESS_DENIED' && puts === 1, 'HTTP: ACCESS_DENIED after exactly 1 attempt');
    say(`remediation: ${forbidden.remediation ?? ''}`);

    step('Stale token: the server answers 401 invalid_token once; the token is refreshed once and the request succeeds');
    const tokensBefore = stack.issuer.requestCount('token');
    const requestsBefore = api.requestCount();
    api.rejectNextTokens(1);
    const refreshed = await docs.request({ method: 'GET', path: '/v1/docs/42', route: '/v1/docs/:id' });
    await refreshed.body.dump();
    const newTokens = stack.issuer.requestCount('token') - tokensBefore;
    const sent = api.requestCount() - requestsBefore;
    say(`GET → ${refreshed.statusCode}; token requests: +${newTokens}, requests at the API: +${sent}`);
    check(refreshed.statusCode === 200 && newTokens === 1 && sent === 2, 'one refresh, one retry, success');

    step('Explaining a decision: secure.policy.explain(...)');
    const explanation = secure.policy.explain({ system: 'mongodb', operation: 'find', accesses: [{ resource: 'mongodb:orders/payment_secrets', action: 'read' }] });
    for (const line of JSON.stringify(explanation, null, 2).split('\n')) say(line);
    check(!explanation.decision.allowed && explanation.decision.ruleId === 'no-payment-secrets', 'the explicit deny rule wins over orders-mongo-rw');

    step('Summary');
    const outcomes = memory.records.filter((r) => r.kind === 'outcome');
    say(`audit: ${memory.records.length} records (${outcomes.length} outcomes, ${outcomes.filter((r) => r.decision === 'deny').length} policy denials)`);
    say(`issuer: ${stack.issuer.requestCount('token')} token requests, ${stack.issuer.requestCount('sts')} STS calls`);
    check(jsonLines.droppedCount === 0, 'no audit record was dropped');
  } finally {
    await closeAll();
  }
  console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; everything closed.`);
}

try {
  await main();
} catch (error) {
  console.error(`\nDEMO FAILED: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof DemoCheckFailed)) console.error(error);
  process.exitCode = 1;
}
