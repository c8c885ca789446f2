// Last line of defence for the doctor's output: the checks never put a token
// or key in a row, but a message from an issuer or a file could carry one.
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

function scrubString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8 && out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  return out.replace(JWT, '[REDACTED JWT]').replace(PRIVATE_KEY, '[REDACTED PRIVATE KEY]');
}

function scrubValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return scrubString(value, secrets);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, secrets);
    return out;
  }
  return value;
}

/**
 * Returns a deep copy of `report` in which every known secret, anything
 * shaped like a JWT and any PEM private key block is replaced by a marker.
 */
export function scrubSecrets<T>(report: T, secrets: Iterable<string>): T {
  return scrubValue(report, [...secrets]) as T;
}
