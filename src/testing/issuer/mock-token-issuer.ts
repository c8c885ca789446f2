import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decodeJwt, type JSONWebKeySet, type JWTPayload } from 'jose';
import { FaultPlan } from './faults.js';
import { SigningKeys } from './signing-keys.js';
import { assumeRoleWithWebIdentity, stsError } from './sts.js';
import { handleTokenRequest, type IssuedToken, type PeerCertificate } from './token-endpoint.js';
import type { IssuerEndpoint, IssuerFault, MockClientRegistration, MockTokenIssuerOptions, ReceivedRequest, StsSession, VerifiedAccessToken } from './types.js';

const MAX_BODY = 64 * 1024;
const ROUTES: Readonly<Record<string, IssuerEndpoint>> = {
  '/.well-known/oauth-authorization-server': 'metadata',
  '/.well-known/openid-configuration': 'metadata',
  '/jwks': 'jwks',
  '/token': 'token',
  '/revoke': 'revoke',
  '/introspect': 'introspect',
  '/sts': 'sts',
};

/** Options of {@link MockTokenIssuer.mintSubjectToken}. */
export interface MintSubjectTokenOptions {
  /** `sub`: a registered client id (SPIFFE ID or service-account name). */
  readonly subject: string;
  /** `aud`; default the issuer URL (what token exchange expects). Use `sts.amazonaws.com` for STS. */
  readonly audience?: string | readonly string[];
  /** Lifetime, seconds. Default 600; negative makes an expired token. */
  readonly ttlSeconds?: number;
  /** Extra claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

function unverifiedClaims(token: string | undefined): JWTPayload | undefined {
  if (token === undefined) return undefined;
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/**
 * A real OAuth 2.0 authorization server for tests, on 127.0.0.1 over HTTPS
 * with the test PKI: RFC 8414 metadata, JWKS, a token endpoint
 * (client_credentials with tls_client_auth or private_key_jwt, RFC 8693
 * token exchange; certificate-bound tokens), RFC 7009 revocation, RFC 7662
 * introspection and an AWS STS `AssumeRoleWithWebIdentity` endpoint, with
 * fault injection and request counters.
 */
export class MockTokenIssuer {
  readonly #options: MockTokenIssuerOptions;
  readonly #clients = new Map<string, MockClientRegistration>();
  readonly #faults = new FaultPlan();
  readonly #counts = new Map<string, number>();
  readonly #requests: ReceivedRequest[] = [];
  readonly #assertions: string[] = [];
  readonly #seenAssertions = new Map<string, number>();
  readonly #issued = new Map<string, IssuedToken>();
  readonly #revoked = new Set<string>();
  readonly #sessions = new Map<string, StsSession>();
  readonly #hung = new Set<ServerResponse>();
  #keys: SigningKeys | undefined;
  #server: Server | undefined;
  #url = '';

  constructor(options: MockTokenIssuerOptions) {
    this.#options = options;
    for (const client of options.clients ?? []) this.#clients.set(client.id, client);
  }

  /** Issuer identifier and base URL, e.g. `https://127.0.0.1:41234` (after `start()`). */
  get url(): string {
    return this.#started();
  }

  /** The STS Query API endpoint. */
  get stsUrl(): string {
    return `${this.#started()}/sts`;
  }

  /** The JWKS endpoint. */
  get jwksUrl(): string {
    return `${this.#started()}/jwks`;
  }

  /** The token endpoint. */
  get tokenEndpoint(): string {
    return `${this.#started()}/token`;
  }

  /** Starts the HTTPS listener on 127.0.0.1. */
  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    this.#keys = await SigningKeys.create(this.#options.keyGraceSeconds ?? 600);
    const serverCert = await this.#options.pki.issueServer();
    // TLS accepts any client (mTLS and private_key_jwt clients share the port); tls_client_auth checks the chain itself.
    const server = createServer(
      { cert: serverCert.certificatePem, key: serverCert.privateKeyPem, ca: this.#options.pki.caCertPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      (req, res) => {
        this.#handle(req, res).catch(() => {
          if (!res.headersSent) this.#json(res, 500, { error: 'server_error' });
        });
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Stops the listener and drops every connection (hung requests included). */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
    const closed = new Promise<void>((resolve) => server.close(() => { resolve(); }));
    server.closeAllConnections();
    await closed;
  }

  /** Registers (or replaces) a client. */
  addClient(client: MockClientRegistration): void {
    this.#clients.set(client.id, client);
  }

  // ---- fault injection -------------------------------------------------

  /** The next `count` requests to `fault.endpoint` (default `token`) fail as described. */
  failNext(count: number, fault: IssuerFault = {}): void {
    this.#faults.failNext(count, fault);
  }

  /** The next `count` token responses are a 200 with a malformed (non-JSON) body. */
  malformNext(count: number, endpoint: IssuerEndpoint = 'token'): void {
    this.#faults.failNext(count, { status: 200, body: '{"access_token": "trunc', endpoint });
  }

  /** Every answer (of `endpoint`, or all) waits `ms` first; 0 clears. */
  delay(ms: number, endpoint: IssuerEndpoint | '*' = '*'): void {
    this.#faults.delay(ms, endpoint);
  }

  /** Requests to `endpoint` (default all) are accepted and never answered until {@link resume}. */
  hang(endpoint: IssuerEndpoint | '*' = '*'): void {
    this.#faults.hang(endpoint);
  }

  /** Stops hanging and delaying, clears queued failures; hung requests are reset. */
  resume(): void {
    this.#faults.reset();
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
  }

  /** Shifts the issuer's clock by `seconds` (minted `iat`/`exp`, assertion and STS checks). */
  clockSkew(seconds: number): void {
    this.#faults.skewSeconds = seconds;
  }

  /** Rotates the signing key; the previous one stays in the JWKS for the grace period. Returns the new `kid`. */
  rotateSigningKey(): Promise<string> {
    return this.#signing().rotate();
  }

  /** Marks a token (by `jti`) revoked. */
  revoke(jti: string): void {
    this.#revoked.add(jti);
  }

  /** True when the `jti` was revoked (via `/revoke` or {@link revoke}). */
  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  // ---- counters and records -------------------------------------------

  /** Requests received by `endpoint` (all when absent), faulted ones included. */
  requestCount(endpoint?: IssuerEndpoint): number {
    return this.#counts.get(endpoint ?? '*') ?? 0;
  }

  /** Requests attributed to `clientId` (at `endpoint`, or all). */
  requestCountFor(clientId: string, endpoint?: IssuerEndpoint): number {
    return this.#counts.get(`${endpoint ?? '*'}|${clientId}`) ?? 0;
  }

  /** The requests received (form parameters included: test use only). */
  requests(endpoint?: IssuerEndpoint): readonly ReceivedRequest[] {
    return endpoint === undefined ? [...this.#requests] : this.#requests.filter((r) => r.endpoint === endpoint);
  }

  /** Every private_key_jwt client assertion received, in order. */
  receivedAssertions(): readonly string[] {
    return [...this.#assertions];
  }

  /** Zeroes the counters and records. */
  resetCounters(): void {
    this.#counts.clear();
    this.#requests.length = 0;
    this.#assertions.length = 0;
  }

  // ---- fixtures ---------------------------------------------------------

  /** The JWKS currently published. */
  jwks(): JSONWebKeySet {
    return this.#signing().jwks();
  }

  /** Signs a subject token (a stand-in for a projected service-account token or web-identity token). */
  mintSubjectToken(options: MintSubjectTokenOptions): Promise<string> {
    const iat = Math.floor(this.#faults.now() / 1000);
    const ttl = options.ttlSeconds ?? 600;
    return this.#signing().sign({
      iat: ttl < 0 ? iat + ttl * 2 : iat,
      ...options.claims,
      iss: this.url,
      sub: options.subject,
      aud: typeof options.audience === 'string' ? options.audience : options.audience === undefined ? this.url : [...options.audience],
      exp: iat + ttl,
    });
  }

  /** Verifies an access token this issuer minted: signature (JWKS), issuer, audience, expiry and revocation. Throws when invalid. */
  async verifyAccessToken(token: string, options: { readonly audience: string }): Promise<VerifiedAccessToken> {
    const { payload } = await this.#signing().verify(token, { issuer: this.url, audience: options.audience, currentDate: new Date(this.#faults.now()) });
    const jti = typeof payload.jti === 'string' ? payload.jti : '';
    if (this.#revoked.has(jti)) throw new Error('token revoked');
    const cnf = payload.cnf as Record<string, unknown> | undefined;
    const thumbprint = cnf?.['x5t#S256'];
    return {
      subject: payload.sub ?? '',
      audience: typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []),
      scope: typeof payload.scope === 'string' ? payload.scope : undefined,
      roles: Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [],
      jti,
      expiresAt: (payload.exp ?? 0) * 1000,
      certificateThumbprint: typeof thumbprint === 'string' ? thumbprint : undefined,
      claims: payload,
    };
  }

  /** The STS session for an access key id (for a SigV4-verifying test gateway). */
  sessionFor(accessKeyId: string): StsSession | undefined {
    return this.#sessions.get(accessKeyId);
  }

  /** Makes a session expired now. */
  expireSession(accessKeyId: string): void {
    const session = this.#sessions.get(accessKeyId);
    if (session !== undefined) this.#sessions.set(accessKeyId, { ...session, expiresAt: Date.now() - 1000 });
  }

  // ---- HTTP -------------------------------------------------------------

  #started(): string {
    if (this.#url === '') throw new Error('MockTokenIssuer: call start() first');
    return this.#url;
  }

  #signing(): SigningKeys {
    if (this.#keys === undefined) throw new Error('MockTokenIssuer: call start() first');
    return this.#keys;
  }

  #count(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const endpoint = ROUTES[url.pathname];
    const body = await readBody(req);
    if (body === undefined) {
      this.#json(res, 413, { error: 'invalid_request' });
      return;
    }
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body)) params[k] = v;
    const peer = peerCertificate(req.socket);
    const clientId = params.client_id ?? unverifiedClaims(params.client_assertion)?.iss ?? (peer?.authorized === true ? peer.uriSan : undefined) ?? unverifiedClaims(params.subject_token ?? params.WebIdentityToken)?.sub;
    this.#requests.push({ endpoint: endpoint ?? 'other', method: req.method ?? 'GET', clientId, params, clientCertificateId: peer?.authorized === true ? peer.uriSan : undefined, at: Date.now() });
    if (endpoint === undefined) {
      this.#json(res, 404, { error: 'not_found' });
      return;
    }
    this.#count('*');
    this.#count(endpoint);
    if (clientId !== undefined) {
      this.#count(`*|${clientId}`);
      this.#count(`${endpoint}|${clientId}`);
    }
    if (params.client_assertion !== undefined) this.#assertions.push(params.client_assertion);
    if (this.#faults.isHanging(endpoint)) {
      this.#hung.add(res);
      return;
    }
    const wait = this.#faults.delayFor(endpoint);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    const fault = this.#faults.take(endpoint);
    if (fault !== undefined) {
      this.#fault(res, endpoint, fault);
      return;
    }
    await this.#dispatch(endpoint, req.method ?? 'GET', params, peer, res);
  }

  async #dispatch(endpoint: IssuerEndpoint, method: string, params: Record<string, string>, peer: PeerCertificate | undefined, res: ServerResponse): Promise<void> {
    const now = this.#faults.now();
    switch (endpoint) {
      case 'metadata':
        this.#json(res, 200, this.#metadata());
        return;
      case 'jwks':
        this.#json(res, 200, this.#signing().jwks());
        return;
      case 'token': {
        if (method !== 'POST') {
          this.#json(res, 405, { error: 'invalid_request' });
          return;
        }
        for (const [jti, exp] of this.#seenAssertions) if (exp < now) this.#seenAssertions.delete(jti);
        const answer = await handleTokenRequest(params, {
          keys: this.#signing(), issuer: this.url, tokenEndpoint: this.tokenEndpoint, clients: this.#clients, now, peer,
          defaultTtlSeconds: this.#options.tokenTtlSeconds ?? 300, maxAssertionLifetimeSeconds: this.#options.maxAssertionLifetimeSeconds ?? 300,
          seenAssertions: this.#seenAssertions, issued: this.#issued, revoked: this.#revoked,
        });
        this.#json(res, answer.status, answer.body);
        return;
      }
      case 'revoke': {
        const jti = unverifiedClaims(params.token)?.jti;
        if (typeof jti === 'string' && this.#issued.has(jti)) this.#revoked.add(jti);
        res.writeHead(200, { 'cache-control': 'no-store' }).end();
        return;
      }
      case 'introspect': {
        try {
          const verified = await this.#signing().verify(params.token ?? '', { issuer: this.url, currentDate: new Date(now) });
          const jti = verified.payload.jti;
          if (typeof jti === 'string' && this.#revoked.has(jti)) throw new Error('revoked');
          this.#json(res, 200, { active: true, ...verified.payload, token_type: 'Bearer' });
        } catch {
          this.#json(res, 200, { active: false });
        }
        return;
      }
      case 'sts': {
        const answer = await assumeRoleWithWebIdentity(params, {
          keys: this.#signing(), issuer: this.url, audience: this.#options.stsAudience ?? 'sts.amazonaws.com',
          sessionSeconds: this.#options.stsSessionSeconds ?? 3600, accountId: this.#options.awsAccountId ?? '123456789012',
          now, clients: this.#clients, sessions: this.#sessions,
        });
        res.writeHead(answer.status, { 'content-type': 'text/xml', 'x-amzn-requestid': 'mock' }).end(answer.body);
        return;
      }
    }
  }

  #metadata(): Record<string, unknown> {
    const url = this.url;
    return {
      issuer: url,
      token_endpoint: `${url}/token`,
      jwks_uri: `${url}/jwks`,
      revocation_endpoint: `${url}/revoke`,
      introspection_endpoint: `${url}/introspect`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
      tls_client_certificate_bound_access_tokens: true,
      response_types_supported: ['token'],
    };
  }

  #fault(res: ServerResponse, endpoint: IssuerEndpoint, fault: IssuerFault): void {
    const status = fault.status ?? 503;
    const headers: Record<string, string> = {};
    if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
    if (fault.body !== undefined) {
      res.writeHead(status, { ...headers, 'content-type': fault.contentType ?? 'application/json' }).end(fault.body);
      return;
    }
    if (endpoint === 'sts') {
      const answer = stsError(status, fault.error ?? (status >= 500 ? 'ServiceUnavailable' : 'IDPCommunicationError'), 'Injected failure.');
      res.writeHead(status, { ...headers, 'content-type': 'text/xml' }).end(answer.body);
      return;
    }
    res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ error: fault.error ?? (status >= 500 ? 'temporarily_unavailable' : 'invalid_request') }));
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  }
}

function peerCertificate(raw: unknown): PeerCertificate | undefined {
  // The HTTPS server hands TLS sockets; typed as net.Socket by node:http.
  const socket = raw as TLSSocket;
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0 || cert.raw === undefined) return undefined;
  const uri = cert.subjectaltname?.split(', ').find((s) => s.startsWith('URI:'))?.slice(4);
  return { authorized: socket.authorized, uriSan: uri, thumbprint: createHash('sha256').update(cert.raw).digest('base64url') };
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
