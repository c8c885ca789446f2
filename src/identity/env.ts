import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import type { ServiceIdentityConfig } from './types.js';
import { validateIdentityConfig } from './validate.js';

/** Which environment variable feeds which configuration field (for error messages). */
const FIELD_TO_VARIABLE: readonly (readonly [string, string])[] = [
  ['identity.serviceId', 'SECURE_NOSQL_SERVICE_ID'],
  ['identity.certificates.dir', 'SECURE_NOSQL_CERT_DIR'],
  ['identity.certificates.certFile', 'SECURE_NOSQL_CERT_FILE'],
  ['identity.certificates.keyFile', 'SECURE_NOSQL_KEY_FILE'],
  ['identity.certificates.bundleFile', 'SECURE_NOSQL_BUNDLE_FILE'],
  ['identity.certificates', 'SECURE_NOSQL_CERT_DIR or SECURE_NOSQL_CERT_FILE/KEY_FILE/BUNDLE_FILE'],
  ['identity.tokens.issuer', 'SECURE_NOSQL_ISSUER'],
  ['identity.tokens.clientAuth.method', 'SECURE_NOSQL_CLIENT_AUTH'],
  ['identity.tokens.clientAuth.clientId', 'SECURE_NOSQL_CLIENT_ID'],
  ['identity.tokens.clientAuth.subjectTokenFile', 'SECURE_NOSQL_SUBJECT_TOKEN_FILE'],
  ['identity.tokens.files', 'SECURE_NOSQL_TOKEN_FILES'],
  ['identity.tokens.audienceParameter', 'SECURE_NOSQL_AUDIENCE_PARAMETER'],
  ['identity.tokens', 'SECURE_NOSQL_ISSUER or SECURE_NOSQL_TOKEN_FILES'],
  ['identity.environment', 'SECURE_NOSQL_ENVIRONMENT'],
];

function variableFor(field: string): string | undefined {
  for (const [prefix, variable] of FIELD_TO_VARIABLE) if (field === prefix || field.startsWith(`${prefix}.`)) return variable;
  return undefined;
}

function parseTokenFiles(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const audience = eq === -1 ? '' : trimmed.slice(0, eq).trim();
    const path = eq === -1 ? '' : trimmed.slice(eq + 1).trim();
    if (audience === '' || path === '') {
      throw new SecureNosqlError('CONFIG_INVALID', 'SECURE_NOSQL_TOKEN_FILES must be a comma-separated list of audience=/path entries, e.g. orders-db=/var/run/secrets/tokens/orders-db,docs-api=/var/run/secrets/tokens/docs', {
        details: { field: 'identity.tokens.files', variable: 'SECURE_NOSQL_TOKEN_FILES' },
      });
    }
    out[audience] = path;
  }
  return out;
}

/**
 * Builds and validates a {@link ServiceIdentityConfig} from environment
 * variables:
 *
 * - `SECURE_NOSQL_SERVICE_ID` — the SPIFFE ID (required).
 * - `SECURE_NOSQL_CERT_DIR` — certificate directory (cert-manager or spiffe-helper layout), or
 * - `SECURE_NOSQL_CERT_FILE`, `SECURE_NOSQL_KEY_FILE`, `SECURE_NOSQL_BUNDLE_FILE` — explicit files.
 * - `SECURE_NOSQL_ISSUER` — token issuer URL (https).
 * - `SECURE_NOSQL_CLIENT_AUTH` — `tls_client_auth` | `private_key_jwt` | `token_exchange`.
 * - `SECURE_NOSQL_CLIENT_ID` — client id at the issuer (defaults to the SPIFFE ID).
 * - `SECURE_NOSQL_SUBJECT_TOKEN_FILE` — subject token file for `token_exchange`.
 * - `SECURE_NOSQL_TOKEN_FILES` — `aud1=/path,aud2=/path` token files per audience.
 * - `SECURE_NOSQL_ENVIRONMENT` — environment label for policy conditions.
 * - `SECURE_NOSQL_AUDIENCE_PARAMETER` — `resource` | `audience` | `both`.
 *
 * Empty variables count as unset.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` naming the field and the variable that set it.
 */
export function identityFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ServiceIdentityConfig {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  try {
    const dir = get('SECURE_NOSQL_CERT_DIR');
    const certFile = get('SECURE_NOSQL_CERT_FILE');
    const keyFile = get('SECURE_NOSQL_KEY_FILE');
    const bundleFile = get('SECURE_NOSQL_BUNDLE_FILE');
    const certificates: Record<string, string> = {};
    if (dir !== undefined) certificates['dir'] = dir;
    if (certFile !== undefined) certificates['certFile'] = certFile;
    if (keyFile !== undefined) certificates['keyFile'] = keyFile;
    if (bundleFile !== undefined) certificates['bundleFile'] = bundleFile;

    const issuer = get('SECURE_NOSQL_ISSUER');
    const method = get('SECURE_NOSQL_CLIENT_AUTH');
    const clientId = get('SECURE_NOSQL_CLIENT_ID');
    const subjectTokenFile = get('SECURE_NOSQL_SUBJECT_TOKEN_FILE');
    const files = get('SECURE_NOSQL_TOKEN_FILES');
    const audienceParameter = get('SECURE_NOSQL_AUDIENCE_PARAMETER');
    const tokens: Record<string, unknown> = {};
    if (issuer !== undefined) tokens['issuer'] = issuer;
    if (method !== undefined || clientId !== undefined || subjectTokenFile !== undefined) {
      tokens['clientAuth'] = {
        method: method ?? 'tls_client_auth',
        ...(clientId === undefined ? {} : { clientId }),
        ...(subjectTokenFile === undefined ? {} : { subjectTokenFile }),
      };
    }
    if (files !== undefined) tokens['files'] = parseTokenFiles(files);
    if (audienceParameter !== undefined) tokens['audienceParameter'] = audienceParameter;
    const environment = get('SECURE_NOSQL_ENVIRONMENT');
    return validateIdentityConfig({
      serviceId: get('SECURE_NOSQL_SERVICE_ID'),
      certificates: Object.keys(certificates).length === 0 ? undefined : certificates,
      ...(Object.keys(tokens).length === 0 ? {} : { tokens }),
      ...(environment === undefined ? {} : { environment }),
    });
  } catch (error) {
    if (!isSecureNosqlError(error) || error.details?.['variable'] !== undefined) throw error;
    const field = error.details?.['field'];
    const variable = typeof field === 'string' ? variableFor(field) : undefined;
    if (variable === undefined) throw error;
    throw new SecureNosqlError('CONFIG_INVALID', `${error.message} (set through ${variable})`, {
      details: { ...error.details, variable },
      remediation: error.remediation,
    });
  }
}
