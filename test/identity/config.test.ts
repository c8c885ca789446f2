import { describe, expect, it } from 'vitest';
import { isSecureNosqlError } from '../../src/errors/index.js';
import { identityFromEnv, validateIdentityConfig } from '../../src/identity/index.js';

const ID = 'spiffe://prod.example/ns/orders/sa/orders-api';
const base = { serviceId: ID, certificates: { dir: '/var/run/secrets/workload' } };

function fieldOf(fn: () => unknown): { code: string; field: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    if (!isSecureNosqlError(error)) throw error;
    return { code: error.code, field: error.details?.['field'], message: error.message };
  }
  throw new Error('expected a configuration error');
}

describe('validateIdentityConfig', () => {
  it('accepts and freezes a full configuration', () => {
    const config = validateIdentityConfig({
      ...base,
      environment: 'prod',
      tokens: {
        issuer: 'https://issuer.internal',
        clientAuth: { method: 'private_key_jwt', algorithm: 'ES256', keyId: 'k1' },
        files: { 'orders-db': '/var/run/secrets/tokens/orders-db' },
        audienceParameter: 'resource',
        refreshAt: 0.75,
      },
    });
    expect(config.serviceId).toBe(ID);
    expect(config.tokens?.clientAuth).toEqual({ method: 'private_key_jwt', algorithm: 'ES256', keyId: 'k1' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(validateIdentityConfig({ serviceId: ID, certificates: { certFile: '/c', keyFile: '/k', bundleFile: '/b' } }).certificates).toEqual({
      certFile: '/c',
      keyFile: '/k',
      bundleFile: '/b',
    });
    expect(
      validateIdentityConfig({ ...base, tokens: { issuer: 'http://127.0.0.1:8443', allowInsecureLoopback: true, clientAuth: { method: 'token_exchange', subjectTokenFile: '/t' } } }).tokens
        ?.issuer,
    ).toBe('http://127.0.0.1:8443');
  });

  it.each([
    ['not an object', 'x', 'identity'],
    ['missing serviceId', { certificates: base.certificates }, 'identity.serviceId'],
    ['bad serviceId', { ...base, serviceId: 'spiffe://Prod/x' }, 'identity.serviceId'],
    ['trust-domain-only serviceId', { ...base, serviceId: 'spiffe://prod.example' }, 'identity.serviceId'],
    ['missing certificates', { serviceId: ID }, 'identity.certificates'],
    ['dir and files', { serviceId: ID, certificates: { dir: '/d', certFile: '/c' } }, 'identity.certificates'],
    ['incomplete files', { serviceId: ID, certificates: { certFile: '/c', keyFile: '/k' } }, 'identity.certificates.bundleFile'],
    ['empty dir', { serviceId: ID, certificates: { dir: '' } }, 'identity.certificates.dir'],
    ['unknown field', { ...base, serviceID: ID }, 'identity.serviceID'],
    ['rejectUnauthorized', { ...base, certificates: { dir: '/d', rejectUnauthorized: false } }, 'identity.certificates.rejectUnauthorized'],
    ['http issuer', { ...base, tokens: { issuer: 'http://issuer.internal' } }, 'identity.tokens.issuer'],
    ['http non-loopback issuer with allowInsecureLoopback', { ...base, tokens: { issuer: 'http://issuer.internal', allowInsecureLoopback: true } }, 'identity.tokens.issuer'],
    ['issuer with query', { ...base, tokens: { issuer: 'https://issuer.internal/?a=1' } }, 'identity.tokens.issuer'],
    ['relative issuer', { ...base, tokens: { issuer: 'issuer.internal' } }, 'identity.tokens.issuer'],
    ['clientAuth without issuer', { ...base, tokens: { clientAuth: { method: 'tls_client_auth' }, files: {} } }, 'identity.tokens.issuer'],
    ['unknown method', { ...base, tokens: { issuer: 'https://i', clientAuth: { method: 'client_secret_basic' } } }, 'identity.tokens.clientAuth.method'],
    ['HS256', { ...base, tokens: { issuer: 'https://i', clientAuth: { method: 'private_key_jwt', algorithm: 'HS256' } } }, 'identity.tokens.clientAuth.algorithm'],
    ['token_exchange without file', { ...base, tokens: { issuer: 'https://i', clientAuth: { method: 'token_exchange' } } }, 'identity.tokens.clientAuth.subjectTokenFile'],
    ['bad token file', { ...base, tokens: { files: { 'orders-db': 3 } } }, 'identity.tokens.files.orders-db'],
    ['audienceParameter', { ...base, tokens: { issuer: 'https://i', audienceParameter: 'aud' } }, 'identity.tokens.audienceParameter'],
    ['refreshAt', { ...base, tokens: { issuer: 'https://i', refreshAt: 1.2 } }, 'identity.tokens.refreshAt'],
    ['allowInsecureLoopback', { ...base, tokens: { issuer: 'https://i', allowInsecureLoopback: 'yes' } }, 'identity.tokens.allowInsecureLoopback'],
    ['empty tokens', { ...base, tokens: {} }, 'identity.tokens'],
    ['environment', { ...base, environment: 'prod env' }, 'identity.environment'],
  ])('%s → CONFIG_INVALID naming the field', (_name, input, field) => {
    const e = fieldOf(() => validateIdentityConfig(input));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.field).toBe(field);
    expect(e.message.startsWith(field)).toBe(true);
  });

  it('shows what a valid value looks like', () => {
    expect(fieldOf(() => validateIdentityConfig({ ...base, tokens: { issuer: 'http://issuer.internal' } })).message).toContain('https://issuer.internal');
    expect(fieldOf(() => validateIdentityConfig({ serviceId: ID })).message).toContain("dir: '/var/run/secrets/workload'");
  });
});

describe('identityFromEnv', () => {
  it('reads the documented variables', () => {
    const config = identityFromEnv({
      SECURE_NOSQL_SERVICE_ID: ID,
      SECURE_NOSQL_CERT_DIR: '/var/run/secrets/workload',
      SECURE_NOSQL_ISSUER: 'https://issuer.internal',
      SECURE_NOSQL_CLIENT_AUTH: 'token_exchange',
      SECURE_NOSQL_CLIENT_ID: 'orders',
      SECURE_NOSQL_SUBJECT_TOKEN_FILE: '/var/run/secrets/tokens/sa',
      SECURE_NOSQL_TOKEN_FILES: 'orders-db=/t/orders-db, docs-api=/t/docs',
      SECURE_NOSQL_ENVIRONMENT: 'prod',
      SECURE_NOSQL_AUDIENCE_PARAMETER: 'audience',
    });
    expect(config).toEqual({
      serviceId: ID,
      certificates: { dir: '/var/run/secrets/workload' },
      environment: 'prod',
      tokens: {
        issuer: 'https://issuer.internal',
        clientAuth: { method: 'token_exchange', clientId: 'orders', subjectTokenFile: '/var/run/secrets/tokens/sa' },
        files: { 'orders-db': '/t/orders-db', 'docs-api': '/t/docs' },
        audienceParameter: 'audience',
      },
    });
    expect(
      identityFromEnv({ SECURE_NOSQL_SERVICE_ID: ID, SECURE_NOSQL_CERT_FILE: '/c', SECURE_NOSQL_KEY_FILE: '/k', SECURE_NOSQL_BUNDLE_FILE: '/b' }).certificates,
    ).toEqual({ certFile: '/c', keyFile: '/k', bundleFile: '/b' });
  });

  it.each([
    [{ SECURE_NOSQL_CERT_DIR: '/d' }, 'SECURE_NOSQL_SERVICE_ID'],
    [{ SECURE_NOSQL_SERVICE_ID: ID }, 'SECURE_NOSQL_CERT_DIR'],
    [{ SECURE_NOSQL_SERVICE_ID: ID, SECURE_NOSQL_CERT_DIR: '/d', SECURE_NOSQL_ISSUER: 'http://issuer' }, 'SECURE_NOSQL_ISSUER'],
    [{ SECURE_NOSQL_SERVICE_ID: ID, SECURE_NOSQL_CERT_DIR: '/d', SECURE_NOSQL_ISSUER: 'https://i', SECURE_NOSQL_CLIENT_AUTH: 'basic' }, 'SECURE_NOSQL_CLIENT_AUTH'],
    [{ SECURE_NOSQL_SERVICE_ID: ID, SECURE_NOSQL_CERT_DIR: '/d', SECURE_NOSQL_TOKEN_FILES: 'orders-db' }, 'SECURE_NOSQL_TOKEN_FILES'],
    [{ SECURE_NOSQL_SERVICE_ID: ID, SECURE_NOSQL_CERT_DIR: '/d', SECURE_NOSQL_ISSUER: 'https://i', SECURE_NOSQL_AUDIENCE_PARAMETER: 'x' }, 'SECURE_NOSQL_AUDIENCE_PARAMETER'],
  ])('names the variable in the error (%o)', (env, variable) => {
    const e = fieldOf(() => identityFromEnv(env));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain(variable);
  });
});
