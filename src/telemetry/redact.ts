/** What replaces a secret in redacted text. */
export const REDACTED = '[REDACTED]';

// Order matters: whole PEM blocks and JWTs go first so later patterns do not
// leave half of one behind.
const PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,3}/g;
const AUTH_SCHEME = /\b(Bearer|DPoP|Basic|Negotiate|token)(\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi;
const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi;
// `user:password@host` without a scheme (a host field filled from a URI).
const BARE_USERINFO = /(^|[\s"'(,;=])([^\s"'/@:]+):([^\s/@]+)@(?=[A-Za-z0-9[])/g;
const KEY_VALUE =
  /\b(password|passwd|pwd|secret|client_secret|client_assertion|assertion|access_token|refresh_token|id_token|subject_token|actor_token|token|api[_-]?key|apikey|aws_secret_access_key|secret_?access_?key|aws_session_token|session_?token|x-amz-security-token|authorization|private_?key|credential)(["']?\s*[=:]\s*["']?)([^\s"'&,;}]+)/gi;
// AWS session tokens and other long opaque credentials: long base64 runs.
const LONG_BASE64 = /[A-Za-z0-9+/]{100,}={0,2}/g;
// AWS secret access keys: exactly 40 base64 characters standing alone.
const FORTY = /(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g;

function looksLikeSecretKey(s: string): string {
  // A 40-char run with both cases and a digit (or a '/' or '+') is not a hex
  // hash or a word; treat it as a secret access key.
  const mixed = /[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s);
  return mixed || /[+/]/.test(s) ? REDACTED : s;
}

/**
 * Removes secrets from free text before it reaches a span, a metric
 * attribute, an audit record or an error message: PEM blocks, JWT-shaped
 * strings, bearer/DPoP/basic credentials, passwords in URIs
 * (`mongodb://user:pass@`), `password=`, `client_assertion=`, token and key
 * parameters, AWS secret keys and session tokens.
 *
 * It is a safety net, not a licence to put driver text into telemetry:
 * callers still build messages from non-secret parts.
 */
export function redact(text: string): string {
  if (text.length < 8) return text;
  return text
    .replace(PEM, '[REDACTED PEM]')
    .replace(JWT, '[REDACTED JWT]')
    .replace(URI_USERINFO, `$1$2:${REDACTED}@`)
    .replace(BARE_USERINFO, `$1$2:${REDACTED}@`)
    .replace(AUTH_SCHEME, `$1$2${REDACTED}`)
    .replace(KEY_VALUE, `$1$2${REDACTED}`)
    .replace(LONG_BASE64, REDACTED)
    .replace(FORTY, looksLikeSecretKey);
}
