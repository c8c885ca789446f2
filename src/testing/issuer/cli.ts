/**
 * Runs {@link MockTokenIssuer} standalone for local development:
 * `npx tsx src/testing/issuer/cli.ts --port 8443 --dir ./.tmp/pki [--service spiffe://example.test/svc] [--audience docs-api]`
 * @packageDocumentation
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestPki } from '../pki/index.js';
import { MockTokenIssuer } from './mock-token-issuer.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8443' },
      dir: { type: 'string', default: './.tmp/pki' },
      service: { type: 'string', default: 'spiffe://example.test/ns/default/sa/dev' },
      audience: { type: 'string', multiple: true },
      ttl: { type: 'string', default: '300' },
    },
  });
  const dir = resolve(values.dir);
  await mkdir(dir, { recursive: true });
  const serviceId = values.service;
  const trustDomain = new URL(serviceId).host;
  const pki = await createTestPki({ dir, trustDomain, serviceId });
  const issuer = new MockTokenIssuer({
    pki,
    port: Number(values.port),
    clients: [{ id: serviceId, audiences: values.audience ?? ['*'], tokenTtlSeconds: Number(values.ttl), roles: ['dev'] }],
  });
  await issuer.start();
  process.stdout.write(
    `MockTokenIssuer listening\n  issuer:   ${issuer.url}\n  sts:      ${issuer.stsUrl}\n  jwks:     ${issuer.jwksUrl}\n  pki dir:  ${dir}\n  identity: ${pki.identityDir}\n  client:   ${serviceId}\nPress Ctrl+C to stop.\n`,
  );
  const stop = (): void => {
    void issuer.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`mock issuer failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
