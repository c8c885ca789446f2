import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecureNosqlError } from '../../src/errors/index.js';
import { createGuard, type GuardPipeline } from '../../src/resilience/index.js';
import { redact } from '../../src/telemetry/index.js';
import { classify, collectingSink, instantSleep, op, otel, scripted } from '../resilience/fixtures.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEcanaryPEMbody0123456789\n-----END PRIVATE KEY-----';
const URI = 'mongodb://app:S3cr3tCanaryPw@orders-db:27017/orders';
const BEARER = 'Bearer opaqueCanaryToken123456';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY1';
const SESSION = 'IQoJb3JpZ2luX2VjE' + 'A'.repeat(60) + 'CanarySessionToken' + 'B'.repeat(60);
const SECRETS = ['S3cr3tCanaryPw', 'MIIEcanaryPEMbody', 'c2lnbmF0dXJlLWNhbmFyeQ', 'eyJzdWIiOiJjYW5hcnkifQ', 'opaqueCanaryToken123456', 'CYCANARYKEY1', 'CanarySessionToken', 'assertionCanary', 'pwCanary'];
const ALL = [JWT, PEM, URI, BEARER, `aws_secret_access_key=${AWS_SECRET}`, SESSION, 'client_assertion=assertionCanary&x=1', 'password=pwCanary'].join(' | ');

function assertClean(text: string): void {
  for (const s of SECRETS) expect(text, `leaked ${s}`).not.toContain(s);
}

describe('redact()', () => {
  it('strips every kind of secret', () => {
    const out = redact(ALL);
    assertClean(out);
    expect(out).toContain('[REDACTED PEM]');
    expect(out).toContain('[REDACTED JWT]');
    expect(out).toContain('mongodb://app:[REDACTED]@orders-db:27017/orders');
    expect(out).toContain('Bearer [REDACTED]');
    expect(out).toContain('client_assertion=[REDACTED]&x=1');
    expect(out).toContain('password=[REDACTED]');
    expect(redact('host app:pwCanary@orders-db:27017')).toBe('host app:[REDACTED]@orders-db:27017');
    expect(redact('Authorization: DPoP pwCanaryDpopValue')).not.toContain('pwCanary');
  });

  it('leaves ordinary text, identifiers and hashes alone', () => {
    for (const text of [
      'mongodb find on mongodb://orders-db:27017 failed: retries exhausted [http_503].',
      'spiffe://prod.example/ns/orders/sa/orders-api',
      'dynamodb:orders/index/by-customer',
      'trace 4bf92f3577b34da6a3ce929d0e0e4736',
      'sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709',
      'GET /v1/docs/{id}',
    ]) {
      expect(redact(text)).toBe(text);
    }
  });
});

describe('canaries never reach spans, metrics, audit records or errors', () => {
  const guards: GuardPipeline[] = [];
  afterEach(async () => {
    await Promise.all(guards.splice(0).map((g) => g.close()));
  });

  it('through every outcome class', async () => {
    const sdk = otel();
    const sink = collectingSink();
    const g = createGuard({
      serviceId: 'spiffe://test/ns/a/sa/orders',
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      audit: sink,
      sleep: instantSleep().sleep,
      retry: { maxAttempts: 2 },
      breaker: { volumeThreshold: 3 },
      decisionPoint: {
        decide: (req) => (req.operation === 'deleteMany' ? { allowed: false, ruleId: `rule ${BEARER}`, reason: `denied ${URI}`, deniedAccess: req.accesses[0]! } : { allowed: true, ruleId: `r ${JWT}`, reason: 'ok' }),
      },
    });
    guards.push(g);
    const poisoned = (operation = 'find') =>
      op({
        operation,
        target: URI,
        collection: `items ${BEARER}`,
        namespace: `orders ${PEM}`,
        serverAddress: `app:S3cr3tCanaryPw@orders-db`,
        audience: `aud ${JWT}`,
        accesses: [
          { resource: `mongodb:orders/${JWT}`, action: 'read' },
          { resource: `http:${URI}?access_token=opaqueCanaryToken123456`, action: 'read' },
        ],
      });
    const errors: SecureNosqlError[] = [];
    const classes = [
      { class: 'stale_credential', reason: `http_401 ${BEARER}` },
      { class: 'auth_rejected', reason: `mongo_18 password=pwCanary` },
      { class: 'access_denied', reason: `denied ${PEM}` },
      { class: 'permanent', reason: `bad ${URI}` },
      { class: 'transient', reason: `http_503 ${SESSION}` },
      { class: 'transient', reason: `http_503 ${SESSION}` },
    ] as const;
    for (const c of classes) {
      const s = scripted([c], `driver says: ${ALL}`);
      await g.run({ op: poisoned(), attempt: s.attempt, classify }).catch((e: unknown) => errors.push(e as SecureNosqlError));
    }
    // the breaker opened on the third transient failure: CIRCUIT_OPEN path
    await g.run({ op: poisoned(), attempt: scripted(['ok']).attempt, classify }).catch((e: unknown) => errors.push(e as SecureNosqlError));
    // policy deny path
    await g.run({ op: poisoned('deleteMany'), attempt: scripted(['ok']).attempt, classify }).catch((e: unknown) => errors.push(e as SecureNosqlError));
    // a success on another target
    await g.run({ op: poisoned('findOne'), attempt: scripted(['ok']).attempt, classify }).catch(() => undefined);

    expect(errors.map((e) => e.code)).toEqual(['AUTH_REJECTED', 'AUTH_REJECTED', 'ACCESS_DENIED', 'UPSTREAM_ERROR', 'UPSTREAM_UNAVAILABLE', 'CIRCUIT_OPEN', 'CIRCUIT_OPEN', 'POLICY_DENIED']);
    const spans = sdk.spans();
    expect(spans.length).toBe(9);
    expect(spans.some((sp) => sp.events.some((e) => e.name === 'retry'))).toBe(true);
    const metrics = await sdk.metrics();
    const dump = JSON.stringify({
      spans: spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })),
      metrics: [...metrics.values()].map((m) => m.dataPoints.map((p) => p.attributes)),
      audit: sink.records,
      errors: errors.map((e) => [e.message, e.remediation, e.toJSON(), inspect(e), e.toPublic()]),
    });
    assertClean(dump);
    // the canaries really were there to be leaked (the test can fail)
    expect(JSON.stringify(errors.map((e) => (e.cause as Error | undefined)?.message))).toContain('S3cr3tCanaryPw');
    await sdk.shutdown();
  });
});
