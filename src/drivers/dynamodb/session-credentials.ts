import { inspect } from 'node:util';
import type { StsCredentialValues } from './sts-client.js';

/**
 * The shape of AWS temporary credentials the SDK signs with
 * (`AwsCredentialIdentity` of `@smithy/types`, restated so this package does
 * not depend on the SDK's type packages).
 */
export interface AwsSessionCredentialIdentity {
  /** The temporary access key id (`ASIA...`); not a secret. */
  readonly accessKeyId: string;
  /** The secret signing key. Never log it. */
  readonly secretAccessKey: string;
  /** The STS session token sent as `X-Amz-Security-Token`. Never log it. */
  readonly sessionToken: string;
  /** When STS lets the session expire. */
  readonly expiration: Date;
}

/** The non-secret view of {@link SessionCredentials}. */
export interface SessionCredentialsJSON {
  /** The access key id. */
  readonly accessKeyId: string;
  /** Expiry, ISO-8601. */
  readonly expiration: string;
  readonly secretAccessKey: '[REDACTED]';
  readonly sessionToken: '[REDACTED]';
}

/**
 * STS temporary credentials that redact themselves: the secret key and the
 * session token are non-enumerable, and `toJSON`, `toString` and
 * `util.inspect` show only the access key id and the expiry. The access key
 * id is not a secret (AWS prints it in CloudTrail and error messages).
 */
export class SessionCredentials implements AwsSessionCredentialIdentity {
  /** The temporary access key id; not a secret. */
  readonly accessKeyId: string;
  /** The secret signing key (non-enumerable). */
  declare readonly secretAccessKey: string;
  /** The STS session token (non-enumerable). */
  declare readonly sessionToken: string;
  /** When STS lets the session expire. */
  readonly expiration: Date;
  /** When the adapter starts refreshing them in the background, ms since epoch. */
  readonly refreshAt: number;
  /** The last instant they are handed out, ms since epoch. */
  readonly usableUntil: number;

  /** Wraps STS values; `refreshAt` and `usableUntil` are ms since epoch. */
  constructor(values: StsCredentialValues, refreshAt: number, usableUntil: number) {
    this.accessKeyId = values.accessKeyId;
    Object.defineProperty(this, 'secretAccessKey', { value: values.secretAccessKey, enumerable: false, writable: false });
    Object.defineProperty(this, 'sessionToken', { value: values.sessionToken, enumerable: false, writable: false });
    this.expiration = values.expiration;
    this.refreshAt = refreshAt;
    this.usableUntil = usableUntil;
  }

  /** The redacted view: access key id and expiry only. */
  toJSON(): SessionCredentialsJSON {
    return { accessKeyId: this.accessKeyId, expiration: this.expiration.toISOString(), secretAccessKey: '[REDACTED]', sessionToken: '[REDACTED]' };
  }

  /** A redacted one-line description. */
  toString(): string {
    return `SessionCredentials(${this.accessKeyId}, expires ${this.expiration.toISOString()}, [REDACTED])`;
  }

  /** `util.inspect` shows the redacted view. */
  [inspect.custom](): string {
    return `SessionCredentials ${JSON.stringify(this.toJSON())}`;
  }
}
