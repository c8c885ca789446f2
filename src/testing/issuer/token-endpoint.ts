import { createPublicKey, randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { SigningKeys } from './signing-keys.js';
import type { MockClientAuthMethod, MockClientRegistration } from './types.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The client certificate the TLS layer saw. */
export interface PeerCertificate {
  /** Chains to the test CA. */
  readonly authorized: boolean;
  readonly uriSan: string | undefined;
  /** RFC 8705 x5t#S256. */
  readonly thumbprint: string;
}

/** A token the issuer minted (for introspection and revocation). */
export interface IssuedToken {
  readonly jti: string;
  readonly clientId: string;
  readonly audience: string;
  readonly expiresAt: number;
}

/** What the token endpoint needs from the issuer. */
export interface TokenEndpointContext {
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly clients: ReadonlyMap<string, MockClientRegistration>;
  readonly now: number;
  readonly peer: PeerCertificate | undefined;
  readonly defaultTtlSeconds: number;
  readonly maxAssertionLifetimeSeconds: number;
  /** Seen assertion jti → expiry (replay detection). */
  readonly seenAssertions: Map<string, number>;
  readonly issued: Map<string, IssuedToken>;
  readonly revoked: ReadonlySet<string>;
}

/** A JSON answer. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** The client the request was attributed to. */
  readonly clientId?: string | undefined;
}

function oauthError(status: number, error: string, description: string, clientId?: string): JsonAnswer {
  return { status, body: { error, error_description: description }, clientId };
}

function allows(client: MockClientRegistration, method: MockClientAuthMethod): boolean {
  const m = client.authMethod;
  if (m === undefined) return true;
  return typeof m === 'string' ? m === method : m.includes(method);
}

async function verifyAssertion(assertion: string, clientId: string | undefined, ctx: TokenEndpointContext): Promise<MockClientRegistration | JsonAnswer> {
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(assertion);
  } catch {
    return oauthError(401, 'invalid_client', 'client_assertion is not a JWT.');
  }
  const id = unverified.iss;
  const client = typeof id === 'string' ? ctx.clients.get(id) : undefined;
  if (client === undefined || (clientId !== undefined && clientId !== id)) return oauthError(401, 'invalid_client', 'Unknown client.', clientId);
  if (!allows(client, 'private_key_jwt')) return oauthError(400, 'unauthorized_client', 'private_key_jwt is not allowed for this client.', client.id);
  let payload: JWTPayload;
  try {
    const options = { audience: [ctx.issuer, ctx.tokenEndpoint], issuer: client.id, subject: client.id, currentDate: new Date(ctx.now), requiredClaims: ['exp', 'jti', 'iat'] };
    const algorithms = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'];
    if (client.jwks !== undefined) ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), { ...options, algorithms }));
    else if (client.publicKey !== undefined) ({ payload } = await jwtVerify(assertion, createPublicKey(client.publicKey), { ...options, algorithms }));
    else return oauthError(401, 'invalid_client', 'No key is registered for this client.', client.id);
  } catch {
    return oauthError(401, 'invalid_client', 'client_assertion failed verification.', client.id);
  }
  const exp = payload.exp as number;
  const iat = payload.iat as number;
  if (exp - iat > ctx.maxAssertionLifetimeSeconds) return oauthError(401, 'invalid_client', 'client_assertion lives too long.', client.id);
  const jti = payload.jti as string;
  if (ctx.seenAssertions.has(jti)) return oauthError(401, 'invalid_client', 'client_assertion was replayed.', client.id);
  ctx.seenAssertions.set(jti, exp * 1000);
  return client;
}

async function subjectClient(params: Readonly<Record<string, string>>, ctx: TokenEndpointContext): Promise<MockClientRegistration | JsonAnswer> {
  const subjectToken = params.subject_token;
  if (subjectToken === undefined || params.subject_token_type === undefined) return oauthError(400, 'invalid_request', 'subject_token and subject_token_type are required.');
  let payload: JWTPayload;
  try {
    ({ payload } = await ctx.keys.verify(subjectToken, { audience: ctx.issuer, currentDate: new Date(ctx.now) }));
  } catch {
    return oauthError(400, 'invalid_grant', 'subject_token failed verification.', params.client_id);
  }
  if (typeof payload.jti === 'string' && ctx.revoked.has(payload.jti)) return oauthError(400, 'invalid_grant', 'subject_token was revoked.', params.client_id);
  const client = typeof payload.sub === 'string' ? ctx.clients.get(payload.sub) : undefined;
  if (client === undefined) return oauthError(400, 'invalid_grant', 'The subject is not a registered client.', params.client_id);
  if (!allows(client, 'token_exchange')) return oauthError(400, 'unauthorized_client', 'Token exchange is not allowed for this client.', client.id);
  return client;
}

/** Handles one token request (client_credentials with tls_client_auth / private_key_jwt, or RFC 8693 token exchange). */
export async function handleTokenRequest(params: Readonly<Record<string, string>>, ctx: TokenEndpointContext): Promise<JsonAnswer> {
  let client: MockClientRegistration | JsonAnswer;
  let exchange = false;
  if (params.grant_type === 'client_credentials') {
    if (params.client_assertion !== undefined) {
      if (params.client_assertion_type !== ASSERTION_TYPE) return oauthError(401, 'invalid_client', 'Unsupported client_assertion_type.', params.client_id);
      client = await verifyAssertion(params.client_assertion, params.client_id, ctx);
    } else {
      const id = params.client_id;
      const registered = id === undefined ? undefined : ctx.clients.get(id);
      if (registered === undefined) return oauthError(401, 'invalid_client', 'Unknown client.', id);
      if (ctx.peer?.authorized !== true || ctx.peer.uriSan !== registered.id) {
        return oauthError(401, 'invalid_client', 'No valid client certificate for this client_id.', id);
      }
      if (!allows(registered, 'tls_client_auth')) return oauthError(400, 'unauthorized_client', 'tls_client_auth is not allowed for this client.', id);
      client = registered;
    }
  } else if (params.grant_type === EXCHANGE_GRANT) {
    client = await subjectClient(params, ctx);
    exchange = true;
  } else {
    return oauthError(400, 'unsupported_grant_type', 'Only client_credentials and token-exchange are supported.', params.client_id);
  }
  if (!('id' in client)) return client;
  const audience = params.audience ?? params.resource;
  if (audience === undefined) return oauthError(400, 'invalid_target', 'An audience or resource is required.', client.id);
  if (params.resource !== undefined && params.audience !== undefined && params.resource !== params.audience) {
    return oauthError(400, 'invalid_target', 'resource and audience disagree.', client.id);
  }
  if (!client.audiences.includes('*') && !client.audiences.includes(audience)) {
    return oauthError(400, 'invalid_target', 'The audience is not allowed for this client.', client.id);
  }
  const allowed = client.scopes ?? [];
  const requested = params.scope === undefined ? allowed : params.scope.split(' ').filter((s) => s.length > 0);
  if (requested.some((s) => !allowed.includes(s))) return oauthError(400, 'invalid_scope', 'A requested scope is not allowed.', client.id);
  const ttl = client.tokenTtlSeconds ?? ctx.defaultTtlSeconds;
  const iat = Math.floor(ctx.now / 1000);
  const bind = ctx.peer?.authorized === true && ctx.peer.uriSan === client.id && client.bindToCertificate !== false;
  const jti = randomUUID();
  const scope = requested.length > 0 ? requested.join(' ') : undefined;
  const token = await ctx.keys.sign({
    iss: ctx.issuer,
    sub: client.id,
    aud: audience,
    iat,
    exp: iat + ttl,
    jti,
    client_id: client.id,
    roles: [...(client.roles ?? [])],
    ...(scope === undefined ? {} : { scope }),
    ...(bind ? { cnf: { 'x5t#S256': ctx.peer?.thumbprint } } : {}),
  });
  ctx.issued.set(jti, { jti, clientId: client.id, audience, expiresAt: (iat + ttl) * 1000 });
  return {
    status: 200,
    clientId: client.id,
    body: {
      access_token: token,
      token_type: 'Bearer',
      expires_in: ttl,
      ...(scope === undefined ? {} : { scope }),
      ...(exchange ? { issued_token_type: ACCESS_TOKEN_TYPE } : {}),
    },
  };
}
