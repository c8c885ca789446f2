import { spawn } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/cli/report.js';
import { runCli, type CliIo } from '../../src/cli/run.js';
import { createWorkload, type Workload } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Asynchronous on purpose: the mock issuer answers from this process's event loop.
function cli(args: readonly string[], env: Record<string, string | undefined>): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SECURE_NOSQL_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('secure-nosql CLI (spawned)', () => {
  let w: Workload;
  beforeEach(async () => {
    w = await createWorkload();
  });
  afterEach(async () => {
    await w.close();
  });

  it('exits 0 and prints a table of passing checks on a healthy configuration', async () => {
    const run = await cli(['doctor'], w.env());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('secure-nosql doctor: spiffe://example.test/ns/orders/sa/orders-api (configuration from env)');
    expect(run.stdout).toMatch(/PASS {4}token for orders-db +aud orders-db, expires in/);
    expect(run.stdout).toMatch(/13 passed, 0 warning\(s\), 0 failed, 0 skipped: OK\n$/);
  });

  it('exits 1 on a failed check and prints its remediation', async () => {
    const key = join(w.pki.identityDir, 'tls.key');
    await chmod(key, 0o604);
    const run = await cli(['doctor'], w.env());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL {4}key file permissions +The private key .* is accessible by every user on the host \(mode 0604\)\./);
    expect(run.stdout).toContain(`fix: Run \`chmod 600 ${key}\``);
    expect(run.stdout).toMatch(/: FAILED\n$/);
  });

  it('prints a machine-readable report with --json', async () => {
    const run = await cli(['doctor', '--json', '--audience', 'docs-api', '--audience', 'not-registered'], w.env());
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(Object.keys(report).sort()).toEqual(['audiences', 'checks', 'configSource', 'ok', 'serviceId', 'startedAt', 'summary', 'version']);
    expect(report).toMatchObject({ ok: false, version: 1, configSource: 'env', audiences: ['docs-api', 'not-registered'] });
    expect(report.summary).toEqual({ pass: 12, warn: 0, fail: 1, skip: 0 });
    for (const c of report.checks) {
      expect(typeof c.id).toBe('string');
      expect(['pass', 'warn', 'fail', 'skip']).toContain(c.status);
      expect(typeof c.detail).toBe('string');
      if (c.status === 'fail') expect(typeof c.remediation).toBe('string');
    }
    expect(report.checks.find((c) => c.id === 'token.not-registered')).toMatchObject({ status: 'fail', code: 'CONFIG_INVALID' });
    expect(report.checks.find((c) => c.id === 'token.docs-api')?.facts).toMatchObject({ aud: ['docs-api'], cnf: true });
  });

  it('never prints the token the issuer returns (canary)', async () => {
    const canary = 'canary-token-0a1b2c3d4e5f6a7b8c9d';
    w.issuer.failNext(2, { status: 200, body: JSON.stringify({ access_token: canary, token_type: 'Bearer', expires_in: 300 }) });
    const run = await cli(['doctor'], w.env());
    expect(run.code).toBe(0);
    expect(w.issuer.requestCount('token')).toBe(2);
    expect(run.stdout).toContain('opaque token, expires in');
    expect(run.stdout + run.stderr).not.toContain(canary);
  });

  it('prints usage with --help and exits 0', async () => {
    const help = await cli(['doctor', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: secure-nosql doctor \[options\]/);
    expect(help.stdout).toContain('--audience <name>');
  });
});

describe('runCli (in process)', () => {
  function io(): { out: string[]; err: string[]; io: CliIo } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {} } };
  }

  it('returns 2 with the usage on an unknown option, an unknown command or no command', async () => {
    const bad = io();
    expect(await runCli(['doctor', '--frobnicate'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain("Unknown option '--frobnicate'");
    expect(bad.err.join('')).toContain('Usage: secure-nosql doctor');
    const unknown = io();
    expect(await runCli(['cure'], unknown.io)).toBe(2);
    expect(unknown.err.join('')).toContain('unknown command "cure"');
    const none = io();
    expect(await runCli([], none.io)).toBe(2);
    expect(none.err.join('')).toContain('Usage: secure-nosql <command>');
    const timeout = io();
    expect(await runCli(['doctor', '--timeout', 'soon'], timeout.io)).toBe(2);
    expect(timeout.err.join('')).toContain('--timeout must be a positive number');
  });

  it('returns 130 when interrupted, without a report', async () => {
    const w = await createWorkload();
    try {
      const controller = new AbortController();
      const out: string[] = [];
      const err: string[] = [];
      const pending = runCli(['doctor'], { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: w.env(), signal: controller.signal });
      controller.abort();
      expect(await pending).toBe(130);
      expect(err.join('')).toBe('secure-nosql doctor: interrupted\n');
      expect(out).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it('returns 1 with the configuration error when nothing is configured', async () => {
    const run = io();
    expect(await runCli(['doctor', '--json'], run.io)).toBe(1);
    const report = JSON.parse(run.out.join('')) as DoctorReport;
    expect(report.checks[0]).toMatchObject({ id: 'config', status: 'fail', code: 'CONFIG_INVALID' });
    expect(report.checks[0]?.detail).toContain('SECURE_NOSQL_SERVICE_ID');
  });
});
