import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCertificateSource, type FileCertificateSource } from '../../src/certificates/index.js';
import { WebIdentityCredentials, type WebIdentityCredentialsOptions } from '../../src/drivers/dynamodb/web-identity-credentials.js';
import { MockTokenIssuer } from '../../src/testing/issuer/index.js';
import { createTestPki } from '../../src/testing/pki/index.js';
import { IssuerTransport } from '../../src/tokens/issuer-transport.js';
import { OAuthTokenSource, TokenCache } from '../../src/tokens/index.js';

const SERVICE_ID = 'spiffe://example.test/ns/orders/sa/orders-api';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/orders-rw';

describe('web-identity credentials (AssumeRoleWithWebIdentity against the mock STS)', () => {
  let dir: string;
  let issuer: MockTokenIssuer;
  let certificates: FileCertificateSource;
  let tokens: TokenCache;
  let transport: IssuerTransport;
  let opts: WebIdentityCredentialsOptions;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secure-nosql-ddbcred-'));
    const pki = await createTestPki({ dir, trustDomain: 'example.test', serviceId: SERVICE_ID });
    certificates = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 });
    // Four-second STS sessions: refresh-ahead becomes observable in a fast test.
    issuer = new MockTokenIssuer({ pki, clients: [{ id: SERVICE_ID, audiences: ['sts.amazonaws.com'], roles: [ROLE_ARN] }], stsSessionSeconds: 4 });
    await issuer.start();
    tokens = new TokenCache(new OAuthTokenSource({ issuer: issuer.url, clientAuth: { method: 'tls_client_auth' }, clientId: SERVICE_ID, certificates }), { certificates });
    transport = new IssuerTransport({ certificates });
    opts = {
      tokens,
      audience: 'sts.amazonaws.com',
      roleArn: ROLE_ARN,
      sessionName: 'orders-api',
      durationSeconds: undefined,
      stsEndpoint: new URL(issuer.stsUrl),
      dispatcher: () => transport.current().agent,
    };
  });
  afterAll(async () => {
    await transport.close();
    await tokens.close();
    await issuer.close();
    await certificates.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refreshes ahead of expiry in the background: callers never wait once credentials exist', async () => {
    const creds = new WebIdentityCredentials(opts);
    const first = await creds.get();
    expect(issuer.sessionFor(first.accessKeyId)?.roleArn).toBe(ROLE_ARN);
    expect(await creds.get()).toBe(first);
    await new Promise((r) => setTimeout(r, first.refreshAt - Date.now() + 20));
    // Past the refresh point: the still-valid credentials are served at once while one STS call runs.
    const sts0 = issuer.requestCount('sts');
    expect(await Promise.all([creds.get(), creds.get(), creds.get()])).toEqual([first, first, first]);
    await new Promise((r) => setTimeout(r, 300));
    const second = await creds.get();
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(issuer.requestCount('sts') - sts0).toBe(1);
    await creds.close();
    await expect(creds.get()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('invalidates by compare-and-swap and then fetches with a fresh web token', async () => {
    const creds = new WebIdentityCredentials(opts);
    const first = await creds.get();
    const tok0 = issuer.requestCount('token');
    expect(creds.invalidate(first)).toBe(true);
    expect(creds.invalidate(first)).toBe(false);
    const second = await creds.get();
    expect(second).not.toBe(first);
    expect(creds.invalidate(first)).toBe(false); // a late invalidation keeps the fresher credentials
    expect(await creds.get()).toBe(second);
    expect(issuer.requestCount('token') - tok0).toBe(1);
    await creds.close();
  });

  it('retries transient STS failures with backoff and stops at the bound', async () => {
    const creds = new WebIdentityCredentials(opts);
    const sts0 = issuer.requestCount('sts');
    issuer.failNext(2, { endpoint: 'sts', status: 503 });
    await creds.get();
    expect(issuer.requestCount('sts') - sts0).toBe(3);
    await creds.close();

    const again = new WebIdentityCredentials(opts);
    issuer.failNext(3, { endpoint: 'sts', status: 400, error: 'IDPCommunicationError' });
    const sts1 = issuer.requestCount('sts');
    await expect(again.get()).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', details: { stsCode: 'IDPCommunicationError', attempts: 3 } });
    expect(issuer.requestCount('sts') - sts1).toBe(3);
    await again.close();
  });

  it('lets one caller abort its wait without cancelling the shared fetch', async () => {
    const creds = new WebIdentityCredentials(opts);
    issuer.delay(200, 'sts');
    const ac = new AbortController();
    const aborted = creds.get(ac.signal);
    const other = creds.get();
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await other).accessKeyId).toMatch(/^ASIA/);
    issuer.delay(0, 'sts');
    await creds.close();
  });

  it('rejects a malformed STS answer without leaking its body', async () => {
    const creds = new WebIdentityCredentials(opts);
    issuer.malformNext(1, 'sts');
    await expect(creds.get()).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', details: { stsCode: 'MalformedResponse' } });
    await creds.close();
  });
});
