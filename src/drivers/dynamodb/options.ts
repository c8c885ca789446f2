import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SecureNosqlError } from '../../errors/index.js';
import type { ServerVerification } from '../../certificates/types.js';

/**
 * The client settings a caller may still pass to the SDK. Everything that
 * decides credentials, transport, retries or the endpoint is owned by
 * secure-nosql and refused here.
 */
export type SafeDynamoDbClientConfig = Pick<DynamoDBClientConfig, 'logger' | 'customUserAgent' | 'userAgentAppId' | 'useFipsEndpoint' | 'useDualstackEndpoint' | 'systemClockOffset'>;

const SAFE_CONFIG_KEYS: ReadonlySet<string> = new Set(['logger', 'customUserAgent', 'userAgentAppId', 'useFipsEndpoint', 'useDualstackEndpoint', 'systemClockOffset']);

/** Which trust anchors verify a server: the workload bundle (mTLS, private endpoints) or the system CAs (AWS public endpoints). */
export type EndpointTrust = 'workload' | 'public';

/** Options of `secure.dynamodb(...)` / {@link createDynamoDbClient}. */
export interface SecureDynamoDbOptions {
  /** AWS region, e.g. `eu-west-1`. */
  readonly region: string;
  /** The IAM role assumed with the web identity, `arn:aws:iam::<account>:role/<name>`. */
  readonly roleArn: string;
  /** Audience of the web-identity token. Default `sts.amazonaws.com`. */
  readonly audience?: string;
  /** STS endpoint. Default the regional one, `https://sts.<region>.amazonaws.com`. */
  readonly stsEndpoint?: string;
  /** DynamoDB endpoint (a gateway, VPC endpoint or local server). Default the SDK's regional endpoint. */
  readonly endpoint?: string;
  /** RoleSessionName (2–64 of `[\w+=,.@-]`). Default derived from the service's SPIFFE ID. */
  readonly sessionName?: string;
  /** Requested session lifetime (STS allows 900–43,200 s, capped by the role). Default: the role's default. */
  readonly sessionDurationSeconds?: number;
  /** How the DynamoDB endpoint's certificate is checked when `endpointTrust` is `workload` (SPIFFE ID, pins). */
  readonly serverVerification?: ServerVerification;
  /**
   * Trust for the DynamoDB endpoint. `workload` (default when `endpoint` is
   * set) presents the current workload certificate and verifies the server
   * against the workload bundle; `public` (default otherwise) uses the system CAs.
   */
  readonly endpointTrust?: EndpointTrust;
  /** Trust for the STS endpoint; same defaults as `endpointTrust`, keyed on `stsEndpoint`. */
  readonly stsTrust?: EndpointTrust;
  /** Allow `http:` endpoints on a loopback address (tests only). Default false. */
  readonly allowInsecureLoopback?: boolean;
  /** Per-request timeout of the HTTP handler, ms. Default 10,000. */
  readonly requestTimeoutMs?: number;
  /** Connection (TCP + TLS) timeout, ms. Default 5,000. */
  readonly connectionTimeoutMs?: number;
  /** Background credential refresh: fraction of the session lifetime (default 0.8) and latest lead time (default 300,000 ms). */
  readonly credentialRefresh?: { readonly refreshAt?: number; readonly refreshBeforeMs?: number };
  /** Further SDK settings that do not touch credentials, transport or retries. */
  readonly clientConfig?: SafeDynamoDbClientConfig;
}

/** Validated options with defaults applied. @internal */
export interface ResolvedDynamoDbOptions {
  readonly region: string;
  readonly roleArn: string;
  readonly audience: string;
  readonly stsEndpoint: URL;
  readonly endpoint: URL | undefined;
  readonly sessionName: string;
  readonly sessionDurationSeconds: number | undefined;
  readonly serverVerification: ServerVerification | undefined;
  readonly endpointTrust: EndpointTrust;
  readonly stsTrust: EndpointTrust;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly refreshAt: number | undefined;
  readonly refreshBeforeMs: number | undefined;
  readonly clientConfig: SafeDynamoDbClientConfig;
  /** Breaker / budget key and span server address. */
  readonly target: string;
  readonly serverAddress: string;
  readonly serverPort: number;
}

function invalid(field: string, message: string): SecureNosqlError {
  return new SecureNosqlError('CONFIG_INVALID', `dynamodb.${field}: ${message}`, { details: { field: `dynamodb.${field}` } });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function parseEndpoint(field: string, value: unknown, allowInsecureLoopback: boolean): URL {
  if (typeof value !== 'string') throw invalid(field, 'must be an https:// URL, e.g. https://dynamodb.eu-west-1.amazonaws.com.');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, 'must be an https:// URL, e.g. https://dynamodb.eu-west-1.amazonaws.com.');
  }
  if (url.username !== '' || url.password !== '') throw invalid(field, 'must not carry credentials in the URL.');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowInsecureLoopback && LOOPBACK.has(url.hostname)) return url;
  throw invalid(field, `must use https:// (http:// is accepted only for a loopback host with allowInsecureLoopback: true); got ${url.protocol}//${url.host}.`);
}

/** A RoleSessionName from the SPIFFE ID's last path segment. */
function defaultSessionName(serviceId: string): string {
  const last = serviceId.split('/').filter((s) => s !== '').pop() ?? 'service';
  const cleaned = last.replace(/[^\w+=,.@-]/g, '-');
  return `secure-nosql-${cleaned}`.slice(0, 64);
}

/** Validates {@link SecureDynamoDbOptions}; throws CONFIG_INVALID naming the field. @internal */
export function resolveDynamoDbOptions(serviceId: string, o: SecureDynamoDbOptions): ResolvedDynamoDbOptions {
  if (typeof o !== 'object' || (o as unknown) === null) throw invalid('options', 'pass { region, roleArn, ... }.');
  if (typeof o.region !== 'string' || !/^[a-z]{2}(?:-[a-z]+)+-\d+$/.test(o.region)) throw invalid('region', `must be an AWS region such as eu-west-1.`);
  if (typeof o.roleArn !== 'string' || !/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(o.roleArn)) {
    throw invalid('roleArn', 'must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>.');
  }
  const audience = o.audience ?? 'sts.amazonaws.com';
  if (typeof audience !== 'string' || audience === '') throw invalid('audience', 'must be a non-empty string (default sts.amazonaws.com).');
  const insecure = o.allowInsecureLoopback === true;
  const stsEndpoint = parseEndpoint('stsEndpoint', o.stsEndpoint ?? `https://sts.${o.region}.amazonaws.com`, insecure);
  const endpoint = o.endpoint === undefined ? undefined : parseEndpoint('endpoint', o.endpoint, insecure);
  const sessionName = o.sessionName ?? defaultSessionName(serviceId);
  if (typeof sessionName !== 'string' || !/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw invalid('sessionName', 'must be 2-64 characters of letters, digits and +=,.@_-.');
  const duration = o.sessionDurationSeconds;
  if (duration !== undefined && (!Number.isInteger(duration) || duration < 900 || duration > 43_200)) {
    throw invalid('sessionDurationSeconds', 'must be an integer between 900 and 43200 (STS limits).');
  }
  for (const field of ['endpointTrust', 'stsTrust'] as const) {
    const v = o[field];
    if (v !== undefined && v !== 'workload' && v !== 'public') throw invalid(field, "must be 'workload' or 'public'.");
  }
  for (const field of ['requestTimeoutMs', 'connectionTimeoutMs'] as const) {
    const v = o[field];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw invalid(field, 'must be a positive number of milliseconds.');
  }
  const refreshAt = o.credentialRefresh?.refreshAt;
  if (refreshAt !== undefined && !(refreshAt > 0 && refreshAt < 1)) throw invalid('credentialRefresh.refreshAt', 'must be a fraction between 0 and 1 (default 0.8).');
  const refreshBeforeMs = o.credentialRefresh?.refreshBeforeMs;
  if (refreshBeforeMs !== undefined && !(refreshBeforeMs >= 0)) throw invalid('credentialRefresh.refreshBeforeMs', 'must be a non-negative number of ms.');
  const clientConfig = o.clientConfig ?? {};
  for (const key of Object.keys(clientConfig)) {
    if (!SAFE_CONFIG_KEYS.has(key)) {
      throw invalid(
        `clientConfig.${key}`,
        `is managed by secure-nosql (credentials, requestHandler, retries, endpoint and region are set from the options); allowed keys: ${[...SAFE_CONFIG_KEYS].join(', ')}.`,
      );
    }
  }
  const serverUrl = endpoint ?? new URL(`https://dynamodb.${o.region}.amazonaws.com`);
  const serverPort = serverUrl.port === '' ? (serverUrl.protocol === 'http:' ? 80 : 443) : Number(serverUrl.port);
  return {
    region: o.region,
    roleArn: o.roleArn,
    audience,
    stsEndpoint,
    endpoint,
    sessionName,
    sessionDurationSeconds: duration,
    serverVerification: o.serverVerification,
    endpointTrust: o.endpointTrust ?? (endpoint === undefined ? 'public' : 'workload'),
    stsTrust: o.stsTrust ?? (o.stsEndpoint === undefined ? 'public' : 'workload'),
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    connectionTimeoutMs: o.connectionTimeoutMs ?? 5_000,
    refreshAt,
    refreshBeforeMs,
    clientConfig,
    target: `dynamodb+${serverUrl.protocol}//${serverUrl.host}`,
    serverAddress: serverUrl.hostname,
    serverPort,
  };
}
