import { request, type Agent } from 'undici';
import { isSecureNosqlError } from '../../errors/index.js';
import type { ClientAuthConfig } from '../../identity/index.js';
import { oauthMetadataUrl, openIdMetadataUrl } from '../../tokens/issuer-url.js';
import type { IssuerMetadata } from '../../tokens/discovery.js';
import { check, sentence, type DoctorCheck } from '../report.js';

/** What one raw GET of the issuer's metadata document saw. */
export interface IssuerProbe {
  readonly url: string;
  readonly status: number;
  /** The issuer's `Date` header, ms since epoch, when readable. */
  readonly serverDate: number | undefined;
  /** Local clock halfway through the exchange, ms. */
  readonly localMidpoint: number;
  /** Round trip, ms. */
  readonly roundTripMs: number;
  /** The parsed metadata document, when it was a JSON object. */
  readonly metadata: Record<string, unknown> | undefined;
}

const MAX_METADATA_BYTES = 64 * 1024;
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

async function getOnce(agent: Agent, url: URL, signal: AbortSignal): Promise<IssuerProbe> {
  const sent = Date.now();
  const res = await request(url, { method: 'GET', dispatcher: agent, signal, headers: { accept: 'application/json' } });
  const received = Date.now();
  let text = '';
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > MAX_METADATA_BYTES) {
      res.body.destroy();
      break;
    }
  }
  const date = res.headers['date'];
  const serverDate = typeof date === 'string' ? Date.parse(date) : Number.NaN;
  let metadata: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) metadata = parsed as Record<string, unknown>;
  } catch {
    metadata = undefined;
  }
  return {
    url: url.href,
    status: res.statusCode,
    serverDate: Number.isNaN(serverDate) ? undefined : serverDate,
    localMidpoint: Math.round((sent + received) / 2),
    roundTripMs: received - sent,
    metadata,
  };
}

/**
 * Reads the issuer's metadata document once, raw (RFC 8414 location, then the
 * OpenID one on 404), over the same TLS agent the library uses. The doctor
 * needs what discovery does not keep: the HTTP `Date` header and the
 * advertised auth methods.
 */
export async function probeIssuer(agent: Agent, issuer: string, signal: AbortSignal, timeoutMs: number): Promise<IssuerProbe> {
  const base = new URL(issuer);
  const combined = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  let probe = await getOnce(agent, oauthMetadataUrl(base), combined);
  if (probe.status === 404) probe = await getOnce(agent, openIdMetadataUrl(base), combined);
  return probe;
}

function describeNetworkError(error: unknown, timeoutMs: number): { what: string; code: string } {
  let e: unknown = error;
  // undici wraps socket errors; the code sits on the cause.
  for (let i = 0; i < 3 && e !== null && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') {
      const name = (e as { name?: unknown }).name;
      if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
        return { what: `no answer within ${timeoutMs} ms`, code };
      }
      return { what: code, code };
    }
    if ((e as { name?: unknown }).name === 'TimeoutError') return { what: `no answer within ${timeoutMs} ms`, code: 'TIMEOUT' };
    e = (e as { cause?: unknown }).cause;
  }
  return { what: 'network error', code: 'UNKNOWN' };
}

/** Turns a probe failure into the `issuer reachable` row. */
export function unreachableRow(issuer: string, error: unknown, timeoutMs: number, bundlePath: string | undefined): DoctorCheck {
  const { what, code } = describeNetworkError(error, timeoutMs);
  const tls = /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_TLS|ERR_SSL|HANDSHAKE/.test(code);
  const remediation = tls
    ? `The issuer's TLS certificate was not accepted: it must chain to the trust bundle${bundlePath === undefined ? '' : ` (${bundlePath})`} and name the issuer host; if the issuer uses mTLS, check it trusts the workload CA.`
    : `Check SECURE_NOSQL_ISSUER / identity.tokens.issuer (${issuer}), that the issuer is running, and that DNS, network policy and egress rules let this workload reach it.`;
  return check('issuer.reachable', 'issuer reachable', 'fail', `Cannot reach the issuer ${issuer}: ${what}.`, {
    remediation,
    code: 'TOKEN_UNAVAILABLE',
    facts: { issuer, error: code },
  });
}

/** The `issuer reachable` row of a probe that got an answer. */
export function reachableRow(issuer: string, probe: IssuerProbe): DoctorCheck {
  const facts = { issuer, metadataUrl: probe.url, status: probe.status, roundTripMs: probe.roundTripMs };
  if (probe.status !== 200) {
    return check('issuer.reachable', 'issuer reachable', 'fail', `The issuer answered HTTP ${probe.status} for its metadata at ${probe.url}.`, {
      remediation: 'Check the issuer URL is the issuer identifier itself (its RFC 8414 metadata lives at /.well-known/oauth-authorization-server) and that the issuer is healthy.',
      facts,
    });
  }
  return check('issuer.reachable', 'issuer reachable', 'pass', `HTTP 200 from ${probe.url} in ${probe.roundTripMs} ms.`, { facts });
}

/**
 * The `issuer metadata` row: the library's own discovery decides (issuer
 * match, HTTPS endpoints); the raw document adds the advertised auth methods.
 */
export async function metadataRows(
  issuer: string,
  discover: () => Promise<IssuerMetadata>,
  probe: IssuerProbe | undefined,
  clientAuth: ClientAuthConfig | undefined,
): Promise<DoctorCheck[]> {
  const rows: DoctorCheck[] = [];
  let tokenEndpoint: string;
  try {
    const metadata = await discover();
    tokenEndpoint = metadata.tokenEndpoint.href;
    rows.push(
      check('issuer.metadata', 'issuer metadata', 'pass', `issuer matches ${metadata.issuer}; token_endpoint ${tokenEndpoint}.`, {
        facts: { issuer: metadata.issuer, tokenEndpoint },
      }),
    );
  } catch (error) {
    const published = probe?.metadata?.['issuer'];
    rows.push(
      check(
        'issuer.metadata',
        'issuer metadata',
        'fail',
        `${isSecureNosqlError(error) ? sentence(error.message) : 'The metadata could not be read.'}${typeof published === 'string' ? ` The document publishes issuer "${published.slice(0, 200)}".` : ''}`,
        {
          remediation: isSecureNosqlError(error) ? error.remediation : 'Check the issuer URL and the issuer health.',
          code: isSecureNosqlError(error) ? error.code : undefined,
          facts: { issuer, ...(typeof published === 'string' ? { publishedIssuer: published.slice(0, 200) } : {}) },
        },
      ),
    );
    return rows;
  }
  const method = clientAuth?.method ?? 'tls_client_auth';
  const doc = probe?.metadata;
  if (method === 'token_exchange') {
    const grants = doc?.['grant_types_supported'];
    if (!Array.isArray(grants)) {
      rows.push(check('issuer.auth-method', 'issuer auth method', 'warn', 'The metadata does not list grant_types_supported, so token exchange support cannot be confirmed.', {
        remediation: 'Confirm with the issuer operator that RFC 8693 token exchange is enabled for this client.',
      }));
    } else if (!grants.includes(TOKEN_EXCHANGE_GRANT)) {
      rows.push(check('issuer.auth-method', 'issuer auth method', 'fail', `The issuer does not advertise the token-exchange grant (grant_types_supported: ${grants.filter((g) => typeof g === 'string').join(', ')}).`, {
        remediation: 'Enable RFC 8693 token exchange at the issuer or choose another SECURE_NOSQL_CLIENT_AUTH method.',
        facts: { method },
      }));
    } else {
      rows.push(check('issuer.auth-method', 'issuer auth method', 'pass', 'The issuer advertises the RFC 8693 token-exchange grant.', { facts: { method } }));
    }
    return rows;
  }
  const methods = doc?.['token_endpoint_auth_methods_supported'];
  if (!Array.isArray(methods)) {
    rows.push(check('issuer.auth-method', 'issuer auth method', 'warn', `The metadata does not list token_endpoint_auth_methods_supported (RFC 8414 then implies client_secret_basic only), so ${method} support cannot be confirmed.`, {
      remediation: `Ask the issuer operator to publish token_endpoint_auth_methods_supported including ${method}.`,
      facts: { method },
    }));
  } else if (!methods.includes(method)) {
    const listed = methods.filter((m): m is string => typeof m === 'string');
    rows.push(check('issuer.auth-method', 'issuer auth method', 'fail', `The issuer does not support ${method} (it lists ${listed.join(', ') || 'nothing'}).`, {
      remediation: `Enable ${method} for this client at the issuer, or set SECURE_NOSQL_CLIENT_AUTH / identity.tokens.clientAuth.method to one it supports.`,
      facts: { method, supported: listed },
    }));
  } else {
    rows.push(check('issuer.auth-method', 'issuer auth method', 'pass', `The issuer supports ${method}.`, { facts: { method } }));
  }
  return rows;
}

/** Clock skew beyond which the doctor warns, seconds. */
export const SKEW_WARN_SECONDS = 10;
/** Clock skew beyond which the doctor fails, seconds. */
export const SKEW_FAIL_SECONDS = 60;

/**
 * Compares the issuer's `Date` header to the local clock at the midpoint of
 * the exchange. `Date` has one-second resolution, so a second of slack is
 * allowed before warning.
 */
export function clockSkewRow(probe: IssuerProbe | undefined): DoctorCheck {
  const title = 'clock skew';
  if (probe === undefined) return check('clock.skew', title, 'skip', 'The issuer could not be reached, so its clock could not be compared.');
  if (probe.serverDate === undefined) {
    return check('clock.skew', title, 'warn', 'The issuer sent no readable Date header, so clock skew could not be measured.', {
      remediation: 'Check the host clock is synchronised (chrony/NTP, `timedatectl status`).',
    });
  }
  const skewMs = probe.serverDate - probe.localMidpoint;
  const seconds = Math.round(skewMs / 1000);
  const abs = Math.abs(seconds);
  const direction = skewMs > 0 ? 'behind' : 'ahead of';
  const facts = { skewSeconds: seconds, issuerDate: new Date(probe.serverDate).toISOString(), localDate: new Date(probe.localMidpoint).toISOString() };
  const remediation = 'Synchronise the clocks (chrony/NTP on the node, `timedatectl status`); token expiry and certificate validity depend on them.';
  if (abs > SKEW_FAIL_SECONDS) {
    return check('clock.skew', title, 'fail', `The local clock is ${abs} s ${direction} the issuer's (limit ${SKEW_FAIL_SECONDS} s): tokens may be rejected as expired or not yet valid.`, { remediation, facts });
  }
  if (abs > SKEW_WARN_SECONDS) {
    return check('clock.skew', title, 'warn', `The local clock is ${abs} s ${direction} the issuer's.`, { remediation, facts });
  }
  return check('clock.skew', title, 'pass', `Within ${Math.max(1, abs)} s of the issuer's clock.`, { facts });
}
