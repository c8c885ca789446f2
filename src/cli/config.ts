import { readFile } from 'node:fs/promises';
import { SecureNosqlError, isSecureNosqlError } from '../errors/index.js';
import { identityFromEnv, validateIdentityConfig, type ServiceIdentityConfig } from '../identity/index.js';

/** What the doctor checks: the identity and the audiences to request tokens for. */
export interface DoctorConfig {
  /** The validated identity configuration. */
  readonly identity: ServiceIdentityConfig;
  /** Audiences from `--audience`, SECURE_NOSQL_AUDIENCES, the file, and the token files, de-duplicated. */
  readonly audiences: readonly string[];
  /** `env`, `file:<path>` or `object`. */
  readonly source: string;
}

/** Where the configuration comes from. */
export interface ConfigInput {
  /** Environment variables (default: none; the CLI passes `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A JSON file path, or an already parsed configuration object. */
  readonly config?: string | ServiceIdentityConfig | DoctorConfigFile;
  /** Explicit audiences; replace SECURE_NOSQL_AUDIENCES when given. */
  readonly audiences?: readonly string[];
  /** Aborts reading the file. */
  readonly signal?: AbortSignal;
}

/**
 * The `--config` file: either `{ "identity": { ... }, "audiences": [ ... ] }`
 * or the identity object itself (`{ "serviceId": ..., "certificates": ... }`).
 */
export interface DoctorConfigFile {
  /** The identity configuration, as `createSecureClientFactory({ identity })` takes it. */
  readonly identity: ServiceIdentityConfig;
  /** Audiences to request a token for. */
  readonly audiences?: readonly string[];
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readConfigFile(path: string, signal: AbortSignal | undefined): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', ...(signal === undefined ? {} : { signal }) });
  } catch (error) {
    throw new SecureNosqlError('CONFIG_INVALID', `The configuration file ${path} cannot be read (${(error as { code?: string }).code ?? 'error'}).`, {
      remediation: 'Pass an existing, readable JSON file to --config, or leave --config out to use the SECURE_NOSQL_* environment variables.',
      cause: error,
      details: { path },
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // The parser's message may quote file content; only the position is kept.
    throw new SecureNosqlError('CONFIG_INVALID', `The configuration file ${path} is not valid JSON.`, {
      remediation: 'Fix the JSON syntax; the file holds { "identity": { "serviceId": ..., "certificates": ... }, "audiences": [ ... ] }.',
      cause: error,
      details: { path },
    });
  }
}

/**
 * Resolves the doctor's configuration the way the library reads it: a
 * `--config` JSON file (or object) validated by `validateIdentityConfig`, or
 * else the SECURE_NOSQL_* variables through `identityFromEnv`.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` naming the field at fault.
 */
export async function resolveDoctorConfig(input: ConfigInput): Promise<DoctorConfig> {
  const env = input.env ?? {};
  let identity: ServiceIdentityConfig;
  let fileAudiences: readonly unknown[] = [];
  let source: string;
  if (input.config === undefined) {
    identity = identityFromEnv(env);
    source = 'env';
  } else {
    const raw = typeof input.config === 'string' ? await readConfigFile(input.config, input.signal) : input.config;
    source = typeof input.config === 'string' ? `file:${input.config}` : 'object';
    if (isObject(raw) && 'identity' in raw) {
      const extra = Object.keys(raw).filter((k) => k !== 'identity' && k !== 'audiences');
      if (extra.length > 0) {
        throw new SecureNosqlError('CONFIG_INVALID', `The configuration has unknown top-level field(s): ${extra.join(', ')}.`, {
          remediation: 'Use { "identity": { ... }, "audiences": [ ... ] } or the identity object alone.',
        });
      }
      identity = validateIdentityConfig(raw['identity']);
      const audiences = raw['audiences'];
      if (audiences !== undefined && (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string' && a.trim() !== ''))) {
        throw new SecureNosqlError('CONFIG_INVALID', 'audiences must be an array of non-empty strings, e.g. ["orders-db", "docs-api"].', {
          details: { field: 'audiences' },
        });
      }
      fileAudiences = audiences ?? [];
    } else {
      identity = validateIdentityConfig(raw);
    }
  }
  const requested = input.audiences ?? (env['SECURE_NOSQL_AUDIENCES'] === undefined ? [] : splitList(env['SECURE_NOSQL_AUDIENCES']));
  const fromFiles = Object.keys(identity.tokens?.files ?? {});
  const audiences = [...new Set([...requested, ...(fileAudiences as string[]), ...fromFiles].map((a) => a.trim()).filter((a) => a !== ''))];
  return { identity, audiences, source };
}

/** True when `error` is a configuration error (as opposed to an I/O or programming error). */
export function isConfigError(error: unknown): error is SecureNosqlError {
  return isSecureNosqlError(error) && error.code === 'CONFIG_INVALID';
}
