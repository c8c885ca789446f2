import { request, type Dispatcher } from 'undici';
import { SecureNosqlError } from '../../errors/index.js';
import { element, leafText, rootElement } from './sts-xml.js';

/** Largest STS response body read, bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** What one AssumeRoleWithWebIdentity call asks for. */
export interface AssumeRoleRequest {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number | undefined;
  /** The web-identity token. Never logged. */
  readonly webIdentityToken: string;
}

/** The temporary credentials of a successful call (plain values; the caller wraps them in a redacting object). */
export interface StsCredentialValues {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** The outcome of one STS exchange. Failures carry the STS error code only, never its message. */
export type StsOutcome =
  | { readonly ok: true; readonly credentials: StsCredentialValues }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly cause?: unknown };

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseSuccess(xml: string): StsCredentialValues | undefined {
  if (rootElement(xml) !== 'AssumeRoleWithWebIdentityResponse') return undefined;
  const creds = element(xml, 'Credentials');
  if (creds === undefined) return undefined;
  const accessKeyId = leafText(creds, 'AccessKeyId');
  const secretAccessKey = leafText(creds, 'SecretAccessKey');
  const sessionToken = leafText(creds, 'SessionToken');
  const expiration = leafText(creds, 'Expiration');
  if (accessKeyId === undefined || !/^[A-Za-z0-9]{4,128}$/.test(accessKeyId)) return undefined;
  if (secretAccessKey === undefined || secretAccessKey === '' || sessionToken === undefined || sessionToken === '') return undefined;
  if (expiration === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(expiration)) return undefined;
  const at = new Date(expiration);
  if (Number.isNaN(at.getTime())) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken, expiration: at };
}

function parseErrorCode(xml: string | undefined): string | undefined {
  if (xml === undefined || rootElement(xml) !== 'ErrorResponse') return undefined;
  const error = element(xml, 'Error');
  const code = error === undefined ? undefined : leafText(error, 'Code');
  return code !== undefined && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : undefined;
}

/**
 * Performs one `AssumeRoleWithWebIdentity` (STS Query API, 2011-06-15) over
 * `dispatcher`. The call is unsigned, as AWS specifies for this action. Never
 * follows redirects. Network faults and timeouts resolve as status 0 with
 * code `network` / `timeout`; the caller's abort rejects with ABORTED.
 */
export async function assumeRoleWithWebIdentity(
  dispatcher: Dispatcher,
  endpoint: URL,
  req: AssumeRoleRequest,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<StsOutcome> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: req.roleArn,
    RoleSessionName: req.sessionName,
    WebIdentityToken: req.webIdentityToken,
  });
  if (req.durationSeconds !== undefined) form.set('DurationSeconds', String(req.durationSeconds));
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  try {
    const res = await request(endpoint, {
      method: 'POST',
      dispatcher,
      signal: combined,
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'text/xml' },
      body: form.toString(),
    });
    const text = await readBounded(res.body);
    if (res.statusCode === 200) {
      const credentials = text === undefined ? undefined : parseSuccess(text);
      return credentials === undefined ? { ok: false, status: 200, code: 'MalformedResponse' } : { ok: true, credentials };
    }
    return { ok: false, status: res.statusCode, code: parseErrorCode(text) ?? `http_${res.statusCode}` };
  } catch (error) {
    if (signal?.aborted === true) {
      throw new SecureNosqlError('ABORTED', 'The STS AssumeRoleWithWebIdentity request was aborted by the caller.', { cause: signal.reason });
    }
    return { ok: false, status: 0, code: timeout.aborted ? 'timeout' : 'network', cause: error };
  }
}
