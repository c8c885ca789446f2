import { randomBytes, randomUUID } from 'node:crypto';
import { errors as joseErrors } from 'jose';
import type { SigningKeys } from './signing-keys.js';
import type { MockClientRegistration, StsSession } from './types.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** An XML answer of the STS endpoint. */
export interface StsAnswer {
  readonly status: number;
  readonly body: string;
}

function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An STS Query API error document. */
export function stsError(status: number, code: string, message: string): StsAnswer {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return {
    status,
    body: `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

/** What the STS handler needs from the issuer. */
export interface StsContext {
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly audience: string;
  readonly sessionSeconds: number;
  readonly accountId: string;
  readonly now: number;
  readonly clients: ReadonlyMap<string, MockClientRegistration>;
  readonly sessions: Map<string, StsSession>;
}

function roleAllowed(client: MockClientRegistration | undefined, roleArn: string): boolean {
  const name = roleArn.split('/').pop() ?? '';
  return client?.roles?.some((r) => r === roleArn || r === name) === true;
}

/** Handles `AssumeRoleWithWebIdentity` (AWS STS Query API, version 2011-06-15). */
export async function assumeRoleWithWebIdentity(params: Readonly<Record<string, string>>, ctx: StsContext): Promise<StsAnswer> {
  if (params.Action !== 'AssumeRoleWithWebIdentity') return stsError(400, 'InvalidAction', `Unsupported action ${params.Action ?? '(none)'}.`);
  if (params.Version !== '2011-06-15') return stsError(400, 'InvalidParameterValue', 'Version must be 2011-06-15.');
  const roleArn = params.RoleArn ?? '';
  const sessionName = params.RoleSessionName ?? '';
  const token = params.WebIdentityToken ?? '';
  if (!/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) return stsError(400, 'ValidationError', 'RoleArn is not a valid IAM role ARN.');
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) return stsError(400, 'ValidationError', 'RoleSessionName is invalid.');
  let claims;
  try {
    ({ payload: claims } = await ctx.keys.verify(token, { audience: ctx.audience, currentDate: new Date(ctx.now) }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return stsError(400, 'ExpiredTokenException', 'Token expired.');
    return stsError(400, 'InvalidIdentityToken', 'The web identity token could not be validated.');
  }
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  if (!roleAllowed(ctx.clients.get(subject), roleArn)) {
    return stsError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
  }
  const requested = params.DurationSeconds === undefined ? ctx.sessionSeconds : Number(params.DurationSeconds);
  if (!Number.isInteger(requested) || requested < 1 || requested > 43_200) return stsError(400, 'ValidationError', 'DurationSeconds is out of range.');
  const session: StsSession = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(96).toString('base64'),
    roleArn,
    roleSessionName: sessionName,
    expiresAt: ctx.now + requested * 1000,
    subject,
  };
  ctx.sessions.set(session.accessKeyId, session);
  const roleName = roleArn.split('/').pop() ?? '';
  const roleId = `AROA${randomBytes(8).toString('hex').toUpperCase()}`;
  const body =
    `<AssumeRoleWithWebIdentityResponse xmlns="${NS}"><AssumeRoleWithWebIdentityResult>` +
    `<SubjectFromWebIdentityToken>${xmlEscape(subject)}</SubjectFromWebIdentityToken>` +
    `<Audience>${xmlEscape(ctx.audience)}</Audience>` +
    `<AssumedRoleUser><Arn>arn:aws:sts::${ctx.accountId}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(sessionName)}</Arn>` +
    `<AssumedRoleId>${roleId}:${xmlEscape(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
    `<Credentials><SessionToken>${session.sessionToken}</SessionToken><SecretAccessKey>${session.secretAccessKey}</SecretAccessKey>` +
    `<Expiration>${new Date(session.expiresAt).toISOString()}</Expiration><AccessKeyId>${session.accessKeyId}</AccessKeyId></Credentials>` +
    `<Provider>${xmlEscape(ctx.issuer)}</Provider>` +
    `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`;
  return { status: 200, body };
}
