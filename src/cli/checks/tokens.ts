import { isSecureNosqlError, type SecureNosqlError } from '../../errors/index.js';
import { audiencesOf, certificateThumbprintOf, readJwtClaims } from '../../tokens/jwt-claims.js';
import type { AccessToken, TokenSource } from '../../tokens/types.js';
import { check, sentence, type DoctorCheck } from '../report.js';
import { formatDuration } from './certificates.js';

/** Where a token for an audience comes from, as the library would choose it. */
export interface AudienceSource {
  readonly source: TokenSource | undefined;
  /** `issuer` or `file:<path>`. */
  readonly kind: string;
  /** Why the source is missing, when it is (the row is skipped). */
  readonly unavailable?: string;
  /** The error that building the source raised (the row fails). */
  readonly failure?: SecureNosqlError;
}

/**
 * Requests one token for `audience` and describes it by its claims: `aud`,
 * time left, scope and whether it is certificate-bound (`cnf`). The token
 * value is handed to `remember` (so the report can be scrubbed of it) and
 * never put in the row.
 */
export async function checkToken(
  audience: string,
  from: AudienceSource,
  certificateThumbprint: string | undefined,
  signal: AbortSignal,
  remember: (secret: string) => void,
): Promise<DoctorCheck> {
  const id = `token.${audience}`;
  const title = `token for ${audience}`;
  if (from.failure !== undefined) {
    return check(id, title, 'fail', sentence(from.failure.message), { remediation: from.failure.remediation, code: from.failure.code, facts: { audience, source: from.kind } });
  }
  if (from.source === undefined) {
    return check(id, title, 'skip', `Not requested: ${from.unavailable ?? 'no token source'}.`);
  }
  let token: AccessToken;
  try {
    token = await from.source.getToken(audience, { signal });
  } catch (error) {
    if (signal.aborted || !isSecureNosqlError(error)) throw error;
    return check(id, title, 'fail', sentence(error.message), {
      remediation: error.remediation,
      code: error.code,
      facts: { audience, source: from.kind, ...(error.details?.['error'] === undefined ? {} : { issuerError: String(error.details['error']) }) },
    });
  }
  remember(token.value);
  const claims = readJwtClaims(token.value);
  const now = Date.now();
  const aud = claims === undefined ? undefined : audiencesOf(claims);
  const expiresAt = claims !== undefined && typeof claims.exp === 'number' ? claims.exp * 1000 : token.expiresAt;
  const cnf = claims === undefined ? token.certificateThumbprint : certificateThumbprintOf(claims);
  const scope = token.scope ?? (claims !== undefined && typeof claims['scope'] === 'string' ? claims['scope'] : undefined);
  const facts = {
    audience,
    source: from.kind,
    tokenType: token.tokenType,
    format: claims === undefined ? 'opaque' : 'jwt',
    aud: aud ?? [audience],
    expiresAt: new Date(expiresAt).toISOString(),
    expiresInSeconds: Math.round((expiresAt - now) / 1000),
    scope,
    cnf: cnf !== undefined,
  };
  const parts = [
    claims === undefined ? 'opaque token' : `aud ${(aud ?? []).join(',') || '(none)'}`,
    `expires in ${formatDuration(expiresAt - now)}`,
    `scope ${scope === undefined ? '(none)' : `"${scope}"`}`,
    cnf === undefined ? 'not certificate-bound' : 'cnf x5t#S256 present',
  ];
  if (cnf !== undefined && certificateThumbprint !== undefined && cnf !== certificateThumbprint) {
    return check(id, title, 'fail', `${parts.join(', ')}; but cnf is bound to a different certificate than the mounted one.`, {
      remediation: 'The issuer bound the token to another client certificate: check the issuer sees this workload certificate (no TLS-terminating proxy in between, or one that forwards the certificate).',
      code: 'TOKEN_INVALID',
      facts,
    });
  }
  if (expiresAt <= now) {
    return check(id, title, 'fail', `${parts.join(', ')}: the token is already expired.`, {
      remediation: 'The issuer handed out an expired token, or the clocks disagree: compare the clock skew row.',
      code: 'TOKEN_INVALID',
      facts,
    });
  }
  return check(id, title, 'pass', `${parts.join(', ')}.`, { facts });
}
