import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertSecureTlsOptions,
  loadCertificateSource,
  spkiPin,
  tlsConnectOptions,
  validatePins,
  type FileCertificateSource,
  type ServerVerification,
} from '../../src/certificates/index.js';
import { isSecureNosqlError } from '../../src/errors/index.js';
import type { IssuedCertificate, TestPki } from '../../src/testing/pki/index.js';
import { connectOnce, startMtlsServer, type TestTlsServer } from '../helpers/tls-server.js';
import { SERVICE_ID, freshPki } from './fixtures.js';

const SERVER_ID = 'spiffe://example.test/ns/db/sa/orders-db';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isSecureNosqlError(error)) return error.code;
    return (error as { code?: string }).code ?? 'unknown';
  }
  return 'ok';
}

describe('server verification over real TLS', () => {
  let pki: TestPki;
  let cleanup: () => Promise<void>;
  let serverCert: IssuedCertificate;
  let spiffeServer: TestTlsServer;
  let plainServer: TestTlsServer;
  let untrustedServer: TestTlsServer;
  let source: FileCertificateSource;

  beforeAll(async () => {
    ({ pki, cleanup } = await freshPki());
    serverCert = await pki.issueServer({ spiffeId: SERVER_ID });
    spiffeServer = await startMtlsServer({ cert: serverCert.certificatePem, key: serverCert.privateKeyPem, ca: pki.caCertPem });
    const plain = await pki.issue({ dnsNames: ['orders-db.internal'] }); // no 127.0.0.1 SAN, no SPIFFE ID
    plainServer = await startMtlsServer({ cert: plain.certificatePem, key: plain.privateKeyPem, ca: pki.caCertPem });
    const untrusted = await pki.issueServer({ signedBy: 'untrusted' });
    untrustedServer = await startMtlsServer({ cert: untrusted.certificatePem, key: untrusted.privateKeyPem, ca: pki.caCertPem });
    source = await loadCertificateSource({ dir: pki.identityDir }, { serviceId: SERVICE_ID, recheckIntervalMs: 0 });
  });
  afterAll(async () => {
    await source.close();
    await spiffeServer.close();
    await plainServer.close();
    await untrustedServer.close();
    await cleanup();
  });

  const connect = (server: () => TestTlsServer, v: ServerVerification): Promise<string> =>
    codeOf(connectOnce(server().port, tlsConnectOptions(source, v)));

  it('authorizes the server by exact SPIFFE ID and by trust domain', async () => {
    expect(await connect(() => spiffeServer, { serverId: SERVER_ID })).toBe('ok');
    expect(await connect(() => spiffeServer, { serverId: 'spiffe://example.test' })).toBe('ok');
    expect(await connect(() => spiffeServer, { serverId: 'spiffe://example.test/ns/*/sa/orders-db' })).toBe('ok');
  });

  it('refuses a server with another SPIFFE ID, trust domain or no SPIFFE ID', async () => {
    expect(await connect(() => spiffeServer, { serverId: 'spiffe://example.test/ns/db/sa/other' })).toBe('CERT_IDENTITY_MISMATCH');
    expect(await connect(() => spiffeServer, { serverId: 'spiffe://other.test' })).toBe('CERT_IDENTITY_MISMATCH');
    expect(await connect(() => plainServer, { serverId: 'spiffe://example.test' })).toBe('CERT_IDENTITY_MISMATCH');
  });

  it('checks the hostname when no serverId is set', async () => {
    expect(await connect(() => spiffeServer, {})).toBe('ok'); // 127.0.0.1 IP SAN
    expect(await connect(() => plainServer, {})).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await connect(() => plainServer, { servername: 'orders-db.internal' })).toBe('ok');
  });

  it('accepts a matching SPKI pin among several and refuses a mismatch with TLS_PIN_MISMATCH', async () => {
    const pin = spkiPin(serverCert.leafPem);
    const otherPin = spkiPin((await pki.issueServer()).leafPem);
    expect(await connect(() => spiffeServer, { serverId: SERVER_ID, pins: [otherPin, pin] })).toBe('ok');
    expect(await connect(() => spiffeServer, { pins: [otherPin] })).toBe('TLS_PIN_MISMATCH');
    expect(await connect(() => spiffeServer, { serverId: SERVER_ID, pins: [otherPin] })).toBe('TLS_PIN_MISMATCH');
  });

  it('always verifies the chain: a server from another CA is refused even with a matching pin', async () => {
    const code = await connect(() => untrustedServer, {});
    expect(code).not.toBe('ok');
    expect(code).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
  });

  it('returns rejectUnauthorized: true and TLS ≥ 1.2, and refuses rejectUnauthorized: false', () => {
    const options = tlsConnectOptions(source);
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.minVersion).toBe('TLSv1.2');
    expect(options.secureContext).toBe(source.current().secureContext);
    const insecure = { rejectUnauthorized: false } as unknown as ServerVerification;
    expect(() => tlsConnectOptions(source, insecure)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => { assertSecureTlsOptions({ rejectUnauthorized: false }, 'http.tls'); }).toThrow(/http\.tls\.rejectUnauthorized/);
    expect(() => { assertSecureTlsOptions({ rejectUnauthorized: true }); }).not.toThrow();
  });

  it('validates pins and serverId up front', () => {
    expect(() => validatePins(['abc'])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => validatePins([])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => tlsConnectOptions(source, { serverId: 'https://example.test' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(spkiPin(serverCert.leafPem)).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});
