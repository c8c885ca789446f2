import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import { formatDoctorReport } from '../../src/cli/format.js';
import type { DoctorCheck, DoctorReport } from '../../src/cli/report.js';
import { AUDIENCES, SERVICE_ID, closedPort, createWorkload, startTinyIssuer, type Workload } from './fixtures.js';

function row(report: DoctorReport, id: string): DoctorCheck {
  const found = report.checks.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no row ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

function failing(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

describe('runDoctor', () => {
  let w: Workload;
  beforeEach(async () => {
    w = await createWorkload();
  });
  afterEach(async () => {
    await w.close();
  });

  it('passes every check on a healthy configuration, showing token claims', async () => {
    const report = await runDoctor({ env: w.env() });
    expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.serviceId).toBe(SERVICE_ID);
    expect(report.audiences).toEqual([...AUDIENCES]);
    expect(report.checks.map((c) => c.id)).toEqual([
      'config',
      'files.present',
      'files.key-permissions',
      'cert.key-match',
      'cert.validity',
      'cert.chain',
      'cert.spiffe-id',
      'issuer.reachable',
      'issuer.metadata',
      'issuer.auth-method',
      'clock.skew',
      'token.orders-db',
      'token.docs-api',
    ]);
    const token = row(report, 'token.orders-db');
    expect(token.detail).toMatch(/^aud orders-db, expires in (4m \d+s|5m 0s), scope "orders.read orders.write", cnf x5t#S256 present\.$/);
    expect(token.facts).toMatchObject({ aud: ['orders-db'], cnf: true, format: 'jwt', scope: 'orders.read orders.write' });
    expect(w.issuer.requestCount('token')).toBe(2);
  });

  it('finds a missing certificate directory', async () => {
    const missing = join(w.dir, 'not-mounted');
    const report = await runDoctor({ env: w.env({ SECURE_NOSQL_CERT_DIR: missing }) });
    const files = row(report, 'files.present');
    expect(files.status).toBe('fail');
    expect(files.detail).toBe(`The certificate directory ${missing} does not exist.`);
    expect(files.remediation).toContain(`Mount the workload certificate volume`);
    expect(row(report, 'files.key-permissions').status).toBe('skip');
    expect(report.ok).toBe(false);
  });

  it('finds a directory without the certificate files', async () => {
    await rm(join(w.pki.identityDir, 'tls.key'));
    const report = await runDoctor({ env: w.env() });
    const files = row(report, 'files.present');
    expect(files.status).toBe('fail');
    expect(files.detail).toContain(`${join(w.pki.identityDir, 'tls.key')} does not exist`);
  });

  it('fails a world-readable private key and tells how to fix it', async () => {
    const key = join(w.pki.identityDir, 'tls.key');
    await chmod(key, 0o644);
    const report = await runDoctor({ env: w.env() });
    const perms = row(report, 'files.key-permissions');
    expect(perms.status).toBe('fail');
    expect(perms.detail).toBe(`The private key ${key} is accessible by every user on the host (mode 0644).`);
    expect(perms.remediation).toContain(`chmod 600 ${key}`);
    expect(perms.remediation).toContain('defaultMode: 0400');
    expect(failing(report)).toEqual(['files.key-permissions']);
  });

  it('warns on a group-readable private key', async () => {
    await chmod(join(w.pki.identityDir, 'tls.key'), 0o640);
    const report = await runDoctor({ env: w.env() });
    expect(row(report, 'files.key-permissions')).toMatchObject({ status: 'warn', facts: { mode: '0640' } });
    expect(report.ok).toBe(true);
  });

  it('finds a private key that does not belong to the certificate', async () => {
    await w.pki.write(await w.pki.issueBad('mismatched-key'));
    const report = await runDoctor({ env: w.env() });
    const match = row(report, 'cert.key-match');
    expect(match.status).toBe('fail');
    expect(match.code).toBe('CERT_KEY_MISMATCH');
    expect(match.detail).toContain(`${join(w.pki.identityDir, 'tls.key')} does not belong to the certificate`);
    expect(match.remediation).toContain('same Secret / rotation');
    expect(row(report, 'cert.chain').status).toBe('skip');
    expect(row(report, 'token.orders-db').status).toBe('skip');
    expect(row(report, 'token.orders-db').detail).toContain('certificate set is not valid');
  });

  it('finds an expired certificate and still checks its chain and SPIFFE ID', async () => {
    await w.pki.write(await w.pki.issueBad('expired'));
    const report = await runDoctor({ env: w.env() });
    const validity = row(report, 'cert.validity');
    expect(validity.status).toBe('fail');
    expect(validity.code).toBe('CERT_EXPIRED');
    expect(validity.detail).toMatch(/expired at \d{4}-/);
    expect(row(report, 'cert.chain').status).toBe('pass');
    expect(row(report, 'cert.spiffe-id').status).toBe('pass');
    // The issuer is still probed (trusting the bundle alone): reachability and clock are reported.
    expect(row(report, 'issuer.reachable').status).toBe('pass');
    expect(row(report, 'clock.skew').status).toBe('pass');
    expect(failing(report)).toEqual(['cert.validity']);
  });

  it('finds a certificate that is not yet valid', async () => {
    await w.pki.write(await w.pki.issueBad('not-yet-valid'));
    const report = await runDoctor({ env: w.env() });
    expect(row(report, 'cert.validity')).toMatchObject({ status: 'fail', code: 'CERT_EXPIRED' });
    expect(row(report, 'cert.validity').detail).toContain('is not valid before');
  });

  it('warns when less than 20% of the certificate lifetime is left', async () => {
    await w.pki.rotate({ notBefore: new Date(Date.now() - 9 * 3600_000), validitySeconds: 10 * 3600 });
    const report = await runDoctor({ env: w.env() });
    const validity = row(report, 'cert.validity');
    expect(validity.status).toBe('warn');
    expect(validity.detail).toMatch(/Expires in (59m \d+s|1h 0m) .*10% of its 10h 0m lifetime left\. Rotation is overdue\./);
    expect(validity.remediation).toContain('cert-manager');
    expect(report.ok).toBe(true);
  });

  it('finds a certificate that does not chain to the bundle', async () => {
    await w.pki.write(await w.pki.issueBad('untrusted-chain'));
    const report = await runDoctor({ env: w.env() });
    const chain = row(report, 'cert.chain');
    expect(chain.status).toBe('fail');
    expect(chain.detail).toContain('does not chain to any CA in the trust bundle');
    expect(row(report, 'cert.key-match').status).toBe('pass');
    expect(row(report, 'cert.spiffe-id').status).toBe('skip');
  });

  it('finds a SPIFFE ID that differs from the configured service ID', async () => {
    const other = 'spiffe://example.test/ns/billing/sa/billing-api';
    const report = await runDoctor({ env: w.env({ SECURE_NOSQL_SERVICE_ID: other }) });
    const id = row(report, 'cert.spiffe-id');
    expect(id.status).toBe('fail');
    expect(id.code).toBe('CERT_IDENTITY_MISMATCH');
    expect(id.detail).toContain(`identifies ${SERVICE_ID}, but serviceId is ${other}`);
    expect(id.remediation).toContain('SECURE_NOSQL_SERVICE_ID');
    expect(row(report, 'cert.key-match').status).toBe('pass');
    expect(row(report, 'cert.chain').status).toBe('pass');
  });

  it('finds an issuer that is not reachable (closed port)', async () => {
    const url = `https://127.0.0.1:${await closedPort()}`;
    const report = await runDoctor({ env: w.env({ SECURE_NOSQL_ISSUER: url }) });
    const reach = row(report, 'issuer.reachable');
    expect(reach.status).toBe('fail');
    expect(reach.detail).toBe(`Cannot reach the issuer ${url}: ECONNREFUSED.`);
    expect(reach.remediation).toContain('SECURE_NOSQL_ISSUER');
    expect(row(report, 'issuer.metadata').status).toBe('skip');
    expect(row(report, 'clock.skew').status).toBe('skip');
    expect(row(report, 'token.orders-db')).toMatchObject({ status: 'skip', detail: 'Not requested: the issuer is not reachable.' });
    expect(failing(report)).toEqual(['issuer.reachable']);
  });

  it('finds an issuer whose TLS certificate the bundle does not trust', async () => {
    const untrusted = await startTinyIssuer(w.pki, { untrusted: true });
    try {
      const report = await runDoctor({ env: w.env({ SECURE_NOSQL_ISSUER: untrusted.url }) });
      const reach = row(report, 'issuer.reachable');
      expect(reach.status).toBe('fail');
      expect(reach.detail).toMatch(/^Cannot reach the issuer https:\/\/127\.0\.0\.1:\d+: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\.$/);
      expect(reach.remediation).toContain(`must chain to the trust bundle (${join(w.pki.identityDir, 'ca.crt')})`);
    } finally {
      await untrusted.close();
    }
  });

  it('finds issuer metadata that names a different issuer', async () => {
    w.issuer.failNext(10, {
      endpoint: 'metadata',
      status: 200,
      body: JSON.stringify({ issuer: 'https://impostor.example', token_endpoint: `${w.issuer.url}/token`, token_endpoint_auth_methods_supported: ['tls_client_auth'] }),
    });
    const report = await runDoctor({ env: w.env() });
    const meta = row(report, 'issuer.metadata');
    expect(meta.status).toBe('fail');
    expect(meta.code).toBe('CONFIG_INVALID');
    expect(meta.detail).toContain('names a different issuer than tokens.issuer');
    expect(meta.detail).toContain('publishes issuer "https://impostor.example"');
    expect(meta.remediation).toContain('mix-up');
    expect(row(report, 'token.orders-db')).toMatchObject({ status: 'skip', detail: 'Not requested: the issuer metadata is not valid.' });
    expect(w.issuer.requestCount('token')).toBe(0);
  });

  it('finds an issuer that does not support the configured client authentication', async () => {
    w.issuer.failNext(10, {
      endpoint: 'metadata',
      status: 200,
      body: JSON.stringify({ issuer: w.issuer.url, token_endpoint: `${w.issuer.url}/token`, token_endpoint_auth_methods_supported: ['client_secret_basic'] }),
    });
    const report = await runDoctor({ env: w.env({ SECURE_NOSQL_AUDIENCES: undefined }), audiences: [] });
    const auth = row(report, 'issuer.auth-method');
    expect(auth.status).toBe('fail');
    expect(auth.detail).toBe('The issuer does not support tls_client_auth (it lists client_secret_basic).');
  });

  it('finds an audience the issuer refuses (invalid_target)', async () => {
    const report = await runDoctor({ env: w.env(), audiences: ['orders-db', 'payments-db'] });
    expect(row(report, 'token.orders-db').status).toBe('pass');
    const refused = row(report, 'token.payments-db');
    expect(refused.status).toBe('fail');
    expect(refused.detail).toContain('refused the audience "payments-db" (invalid_target)');
    expect(refused.remediation).toContain('Register "payments-db" as an allowed audience');
    expect(refused.facts).toMatchObject({ issuerError: 'invalid_target' });
    expect(failing(report)).toEqual(['token.payments-db']);
  });

  it('finds a clock that disagrees with the issuer', async () => {
    const skewed = await startTinyIssuer(w.pki, { skewSeconds: 300 });
    try {
      const report = await runDoctor({ env: w.env({ SECURE_NOSQL_ISSUER: skewed.url }), audiences: [] });
      const skew = row(report, 'clock.skew');
      expect(skew.status).toBe('fail');
      expect(skew.detail).toMatch(/^The local clock is (299|300|301) s behind the issuer's \(limit 60 s\)/);
      expect(skew.remediation).toContain('NTP');
      expect(skew.facts?.['skewSeconds']).toBeGreaterThanOrEqual(299);
      expect(row(report, 'issuer.metadata').status).toBe('pass');
    } finally {
      await skewed.close();
    }
  });

  it('reads mounted token files and finds one issued for another audience', async () => {
    const good = join(w.dir, 'orders-db.jwt');
    const wrong = join(w.dir, 'docs-api.jwt');
    const goodToken = await w.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'orders-db', ttlSeconds: 600 });
    await writeFile(good, goodToken);
    await writeFile(wrong, await w.issuer.mintSubjectToken({ subject: SERVICE_ID, audience: 'somebody-else' }));
    const report = await runDoctor({
      env: w.env({ SECURE_NOSQL_ISSUER: undefined, SECURE_NOSQL_CLIENT_AUTH: undefined, SECURE_NOSQL_AUDIENCES: 'stray', SECURE_NOSQL_TOKEN_FILES: `orders-db=${good},docs-api=${wrong}` }),
    });
    expect(report.audiences).toEqual(['stray', 'orders-db', 'docs-api']);
    expect(row(report, 'token.stray')).toMatchObject({ status: 'fail', code: 'CONFIG_INVALID' });
    expect(row(report, 'token.stray').detail).toContain('No token source serves audience "stray"');
    expect(row(report, 'token.orders-db')).toMatchObject({ status: 'pass', facts: { source: `file:${good}`, aud: ['orders-db'], cnf: false } });
    expect(row(report, 'token.orders-db').detail).toMatch(/^aud orders-db, expires in (9m \d+s|10m 0s), scope \(none\), not certificate-bound\.$/);
    expect(row(report, 'token.docs-api')).toMatchObject({ status: 'fail', code: 'TOKEN_INVALID' });
    expect(row(report, 'token.docs-api').detail).toContain(`The token in ${wrong} is not issued for audience "docs-api"`);
    expect(report.checks.some((c) => c.id.startsWith('issuer.'))).toBe(false);
    expect(JSON.stringify(report)).not.toContain(goodToken.split('.')[2]);
  });

  it('reads a JSON config file with audiences', async () => {
    const path = join(w.dir, 'doctor.json');
    await writeFile(path, JSON.stringify({ identity: { serviceId: SERVICE_ID, certificates: { dir: w.pki.identityDir }, tokens: { issuer: w.issuer.url, clientAuth: { method: 'tls_client_auth' } } }, audiences: ['docs-api'] }));
    const report = await runDoctor({ config: path, env: {} });
    expect(report.configSource).toBe(`file:${path}`);
    expect(report.audiences).toEqual(['docs-api']);
    expect(report.ok).toBe(true);
  });

  it('explains an invalid configuration', async () => {
    const report = await runDoctor({ env: w.env({ SECURE_NOSQL_ISSUER: 'http://issuer.example' }) });
    expect(report.checks).toHaveLength(1);
    expect(row(report, 'config')).toMatchObject({ status: 'fail', code: 'CONFIG_INVALID' });
    expect(row(report, 'config').detail).toContain('SECURE_NOSQL_ISSUER');
  });

  it('never shows a token the issuer returns, nor the private key', async () => {
    const canary = 'canary-token-7f3c9a1e5b2d4f60';
    w.issuer.failNext(1, { status: 200, body: JSON.stringify({ access_token: canary, token_type: 'Bearer', expires_in: 120, scope: 'orders.read' }) });
    const report = await runDoctor({ env: w.env() });
    const opaque = row(report, 'token.orders-db');
    expect(opaque.status).toBe('pass');
    expect(opaque.detail).toMatch(/^opaque token, expires in (1m 59s|2m 0s), scope "orders.read", not certificate-bound\.$/);
    const text = JSON.stringify(report) + formatDoctorReport(report);
    expect(text).not.toContain(canary);
    expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    const keyBody = w.pki.current.privateKeyPem.split('\n')[1] ?? 'missing';
    expect(keyBody.length).toBeGreaterThan(20);
    expect(text).not.toContain(keyBody);
  });

  it('never shows the content of an unreadable key file (canary key)', async () => {
    const canaryKey = '-----BEGIN PRIVATE KEY-----\nQ0FOQVJZLUtFWS1ET05PVFBSSU5UCANARYKEYCANARY\n-----END PRIVATE KEY-----\n';
    await writeFile(join(w.pki.identityDir, 'tls.key'), canaryKey, { mode: 0o600 });
    const report = await runDoctor({ env: w.env() });
    expect(row(report, 'cert.key-match')).toMatchObject({ status: 'fail', code: 'CERT_INVALID' });
    const text = JSON.stringify(report) + formatDoctorReport(report);
    expect(text).not.toContain('CANARYKEY');
    expect(text).not.toContain('Q0FOQVJZ');
  });
});
