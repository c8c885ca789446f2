import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spkiPin } from '../../src/certificates/index.js';
import { createHttpClient } from '../../src/drivers/http/index.js';
import type { DocApiServer } from '../fixtures/doc-api-server.js';
import { AUDIENCE, createHttpFixture, rejectionOf, SERVER_ID, type HttpFixture } from './helpers.js';

let fx: HttpFixture;
let spiffeServer: DocApiServer;

beforeAll(async () => {
  fx = await createHttpFixture();
  fx.server.docs.set('1', '{"one":1}');
  // A second doc API whose certificate carries a SPIFFE ID (and the usual 127.0.0.1 SAN).
  const cert = await fx.pki.issueServer({ spiffeId: SERVER_ID });
  spiffeServer = await fx.otherServer({ cert: cert.certificatePem, key: cert.privateKeyPem });
  spiffeServer.docs.set('1', '{"one":1}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.server.resetCounters();
  spiffeServer.resetCounters();
  fx.issuer.resetCounters();
});

describe('SPKI pinning', () => {
  it('a matching pin (among several) works', async () => {
    const client = fx.client({ pins: [spkiPin(fx.pki.caCertPem), spkiPin(fx.serverCertPem)] });
    const res = await client.request({ method: 'GET', path: '/v1/docs/1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('a pin mismatch fails with TLS_PIN_MISMATCH before any request reaches the API (no token sent)', async () => {
    const client = fx.client({ pins: [spkiPin(fx.pki.caCertPem)] });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(error.code).toBe('TLS_PIN_MISMATCH');
    expect(fx.server.requestCount()).toBe(0);
    expect(fx.server.authorizationHeaders).toEqual([]);
    // The same through fetch-style use of the dispatcher.
    const viaRequest = await rejectionOf(request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher }));
    expect(viaRequest.code).toBe('TLS_PIN_MISMATCH');
    expect(fx.server.requestCount()).toBe(0);
  });

  it('a malformed pin is CONFIG_INVALID at creation', () => {
    expect(() => createHttpClient(fx.ctx(), { origin: fx.server.origin, audience: AUDIENCE, pins: ['not-a-pin'] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('no TLS session is ever resumed, so the pin check runs on every connection', async () => {
    const client = fx.client({ pins: [spkiPin(fx.serverCertPem)] });
    const before = fx.server.connections.length;
    // reset: true closes the connection after each request, forcing a new handshake each time.
    for (let i = 0; i < 4; i++) {
      const res = await request(`${fx.server.origin}/v1/docs/1`, { dispatcher: client.dispatcher, reset: true });
      await res.body.dump();
    }
    const fresh = fx.server.connections.slice(before);
    expect(fresh.length).toBeGreaterThanOrEqual(4);
    expect(fresh.every((c) => !c.resumed)).toBe(true);

    // Control: a plain undici agent (session cache on by default) DOES resume — the check above can fail.
    const g = fx.certs.current();
    const plain = new Agent({ connect: { cert: g.certificatePem, key: g.privateKeyPem, ca: g.bundlePem } });
    const token = await fx.tokens.getToken(AUDIENCE);
    const mark = fx.server.connections.length;
    for (let i = 0; i < 3; i++) {
      const res = await request(`${fx.server.origin}/v1/docs/1`, { dispatcher: plain, reset: true, headers: { authorization: `Bearer ${token.value}` } });
      await res.body.dump();
    }
    await plain.close();
    expect(fx.server.connections.slice(mark).some((c) => c.resumed)).toBe(true);
  });
});

describe('server authorization by SPIFFE ID or hostname', () => {
  it('serverId: the exact SPIFFE ID of the server is accepted', async () => {
    const client = fx.client({ origin: spiffeServer.origin, serverId: SERVER_ID });
    const res = await client.request({ method: 'GET', path: '/v1/docs/1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('serverId: a whole trust domain is accepted', async () => {
    const client = fx.client({ origin: spiffeServer.origin, serverId: 'spiffe://example.test' });
    const res = await client.request({ method: 'GET', path: '/v1/docs/1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('serverId: another workload is refused (CERT_IDENTITY_MISMATCH) with nothing sent', async () => {
    const client = fx.client({ origin: spiffeServer.origin, serverId: 'spiffe://example.test/ns/other/sa/impostor' });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(error.code).toBe('CERT_IDENTITY_MISMATCH');
    expect(spiffeServer.requestCount()).toBe(0);
  });

  it('serverId on a server without a SPIFFE ID is refused', async () => {
    const client = fx.client({ serverId: SERVER_ID });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(error.code).toBe('CERT_IDENTITY_MISMATCH');
    expect(fx.server.requestCount()).toBe(0);
  });

  it('hostname verification: localhost matches the DNS SAN; a wrong servername is refused', async () => {
    const byName = fx.client({ origin: fx.server.localhostOrigin });
    const res = await byName.request({ method: 'GET', path: '/v1/docs/1' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const wrong = fx.client({ servername: 'docs.elsewhere.test' });
    const error = await rejectionOf(wrong.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(error.code).toBe('CERT_IDENTITY_MISMATCH');
    expect(fx.server.requestCount()).toBe(1);
  });

  it('a server certificate from another CA fails verification against the bundle (CERT_INVALID)', async () => {
    const untrusted = await fx.pki.issue({ signedBy: 'untrusted', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], extendedKeyUsage: ['serverAuth'] });
    const rogue = await fx.otherServer({ cert: untrusted.certificatePem, key: untrusted.privateKeyPem });
    const client = fx.client({ origin: rogue.origin });
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/1' }));
    expect(error.code).toBe('CERT_INVALID');
    expect(rogue.requestCount()).toBe(0);
  });

  it('an http: origin is refused at creation (mutual TLS is required)', () => {
    expect(() => createHttpClient(fx.ctx(), { origin: 'http://127.0.0.1:1', audience: AUDIENCE })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => createHttpClient(fx.ctx(), { origin: 'https://127.0.0.1:1/v1', audience: AUDIENCE })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => createHttpClient(fx.ctx(), { origin: 'https://127.0.0.1:1', audience: '' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
