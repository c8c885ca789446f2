import { loadCertificateSource, type CertificateSourceOptions } from './certificates/index.js';
import type { CertificateSource } from './certificates/types.js';
import type { AuditSink } from './audit/types.js';
import { SecureNosqlError } from './errors/index.js';
import { identityFromEnv, validateIdentityConfig } from './identity/index.js';
import type { ServiceIdentityConfig } from './identity/types.js';
import type { DriverContext } from './drivers/types.js';
import type { SecureHttpClient, SecureHttpOptions } from './drivers/http/index.js';
import { createHttpClient } from './drivers/http/index.js';
import type { SecureMongoClient, SecureMongoOptions } from './drivers/mongodb/index.js';
import type { SecureDynamoDbOptions } from './drivers/dynamodb/index.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { compilePolicy, type PolicyExplanation } from './policy/index.js';
import type { Decision, DecisionPoint, DecisionRequest } from './policy/types.js';
import { createGuard, type GuardPipeline } from './resilience/index.js';
import type { BreakerRegistryOptions, RetryBudgetOptions, RetryOptions } from './resilience/index.js';
import { Telemetry, type TelemetryOptions } from './telemetry/index.js';
import { TokenCache, createTokenSource, type CreateTokenSourceOptions, type TokenCacheOptions } from './tokens/index.js';

/** A decision point that can also explain its decisions (the local matcher and the file policy). */
interface ExplainingDecisionPoint extends DecisionPoint {
  explain(request: DecisionRequest): PolicyExplanation;
}

/** Options of {@link createSecureClientFactory}. */
export interface SecureClientFactoryOptions {
  /** The service identity; read from `SECURE_NOSQL_*` environment variables when absent (see `identityFromEnv`). */
  readonly identity?: ServiceIdentityConfig;
  /**
   * A policy document (compiled once) or any {@link DecisionPoint} (a
   * `FilePolicy`, `OpaDecisionPoint`, `CedarDecisionPoint`). An invalid
   * document fails closed with `CONFIG_INVALID`. Absent: no local policy —
   * every operation is allowed locally, audited with rule id `no-policy`, and
   * the store remains the only enforcer.
   */
  readonly policy?: DecisionPoint | Record<string, unknown>;
  /** Where decision and outcome records go. */
  readonly audit?: AuditSink;
  /** Tracer and meter providers; default to the global OpenTelemetry API. */
  readonly telemetry?: TelemetryOptions;
  /** Guard pipeline tuning. */
  readonly resilience?: {
    readonly retry?: RetryOptions;
    readonly budget?: RetryBudgetOptions;
    readonly breaker?: BreakerRegistryOptions;
  };
  /** Certificate loading and watching tuning. */
  readonly certificates?: Omit<CertificateSourceOptions, 'serviceId' | 'signal'>;
  /** Token cache tuning. */
  readonly tokenCache?: Omit<TokenCacheOptions, 'certificates' | 'observer' | 'closeSource'>;
  /** Issuer client tuning (timeouts, retries, extra trust anchors for the issuer). */
  readonly issuer?: Omit<CreateTokenSourceOptions, 'serviceId'>;
  /** Aborts the startup (certificate load). */
  readonly signal?: AbortSignal;
}

/** Options of {@link SecureClientFactory.close}. */
export interface CloseOptions {
  /** Revoke every cached token at the issuer (RFC 7009) before closing. Default false. */
  readonly revokeTokens?: boolean;
  /** Longest `close()` waits for revocation and draining, ms. Default 5,000. */
  readonly deadlineMs?: number;
}

/** The policy as seen through the factory. */
export interface PolicyView {
  /** Decides an operation for this service as the guard would, without sending anything. */
  decide(request: Omit<DecisionRequest, 'subject'> & { readonly subject?: string }): Promise<Decision>;
  /** Which rule decided and why; available with a local policy document or a `FilePolicy`. */
  explain(request: Omit<DecisionRequest, 'subject'> & { readonly subject?: string }): PolicyExplanation;
}

/**
 * What {@link createSecureClientFactory} returns: hardened clients for each
 * store, and the shared parts they use.
 */
export interface SecureClientFactory {
  /** The service's SPIFFE ID. */
  readonly serviceId: string;
  /** The shared token cache. */
  readonly tokens: TokenCache;
  /** The workload certificates (current generation, rotation events). */
  readonly certificates: CertificateSource;
  /** The local policy. */
  readonly policy: PolicyView;
  /** The shared guard pipeline (breaker events, for advanced use). */
  readonly guard: GuardPipeline;
  /** A guarded MongoDB client (needs the optional peer `mongodb`). */
  mongodb(options: SecureMongoOptions): Promise<SecureMongoClient>;
  /** A guarded `DynamoDBClient` (needs the optional peer `@aws-sdk/client-dynamodb`). */
  dynamodb(options: SecureDynamoDbOptions): Promise<DynamoDBClient>;
  /** A guarded HTTP client with an undici dispatcher. */
  http(options: SecureHttpOptions): SecureHttpClient;
  /** Closes every client, watcher and timer; optionally revokes cached tokens first. */
  close(options?: CloseOptions): Promise<void>;
}

interface Closable {
  close(): Promise<unknown>;
}

/** Any object with a `close()` returning a promise or nothing. */
function isClosable(value: unknown): value is Closable {
  return typeof (value as { close?: unknown } | null)?.close === 'function';
}

function resolveDecisionPoint(policy: SecureClientFactoryOptions['policy']): DecisionPoint | undefined {
  if (policy === undefined) return undefined;
  if (typeof (policy as { decide?: unknown }).decide === 'function') return policy as DecisionPoint;
  return compilePolicy(policy);
}

function canExplain(dp: DecisionPoint | undefined): dp is ExplainingDecisionPoint {
  return typeof (dp as { explain?: unknown } | undefined)?.explain === 'function';
}

async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Builds the hardened client factory for one workload identity: loads and
 * watches the mounted certificates, creates the shared token cache, policy
 * decision point, telemetry and guard pipeline. Import has no side effects;
 * everything starts here and stops in `close()`.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for a bad identity or policy, `CERT_*` for bad certificates.
 */
export async function createSecureClientFactory(options: SecureClientFactoryOptions = {}): Promise<SecureClientFactory> {
  const identity = validateIdentityConfig(options.identity ?? identityFromEnv());
  const decisionPoint = resolveDecisionPoint(options.policy);
  const certificates = await loadCertificateSource(identity.certificates, {
    ...options.certificates,
    serviceId: identity.serviceId,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const telemetry = new Telemetry(options.telemetry);
  telemetry.observeCertificates(certificates);
  let tokens: TokenCache;
  try {
    const source = createTokenSource(identity.tokens ?? {}, certificates, { ...options.issuer, serviceId: identity.serviceId });
    tokens = new TokenCache(source, {
      ...options.tokenCache,
      ...(identity.tokens?.refreshAt === undefined ? {} : { refreshAt: identity.tokens.refreshAt }),
      certificates,
      observer: telemetry.tokenObserver(),
    });
  } catch (error) {
    await certificates.close();
    telemetry.close();
    throw error;
  }
  const guard = createGuard({
    serviceId: identity.serviceId,
    ...(identity.environment === undefined ? {} : { environment: identity.environment }),
    ...(decisionPoint === undefined ? {} : { decisionPoint }),
    ...(options.audit === undefined ? {} : { audit: options.audit }),
    telemetry,
    ...options.resilience,
  });
  return new Factory(identity, certificates, tokens, guard, telemetry, decisionPoint, options.audit);
}

class Factory implements SecureClientFactory {
  readonly serviceId: string;
  readonly tokens: TokenCache;
  readonly certificates: CertificateSource;
  readonly guard: GuardPipeline;
  readonly policy: PolicyView;
  readonly #identity: ServiceIdentityConfig;
  readonly #telemetry: Telemetry;
  readonly #decisionPoint: DecisionPoint | undefined;
  readonly #audit: AuditSink | undefined;
  readonly #clients = new Set<Closable>();
  #closed = false;

  constructor(
    identity: ServiceIdentityConfig,
    certificates: CertificateSource,
    tokens: TokenCache,
    guard: GuardPipeline,
    telemetry: Telemetry,
    decisionPoint: DecisionPoint | undefined,
    audit: AuditSink | undefined,
  ) {
    this.#identity = identity;
    this.serviceId = identity.serviceId;
    this.certificates = certificates;
    this.tokens = tokens;
    this.guard = guard;
    this.#telemetry = telemetry;
    this.#decisionPoint = decisionPoint;
    this.#audit = audit;
    this.policy = this.#policyView();
  }

  #policyView(): PolicyView {
    const dp = this.#decisionPoint;
    const withSubject = (request: Omit<DecisionRequest, 'subject'> & { readonly subject?: string }): DecisionRequest => ({
      ...request,
      subject: request.subject ?? this.serviceId,
      context: { ...(this.#identity.environment === undefined ? {} : { environment: this.#identity.environment }), ...request.context },
    });
    return {
      decide: async (request) => {
        if (dp === undefined) return { allowed: true, ruleId: 'no-policy', reason: 'no policy configured' };
        return dp.decide(withSubject(request));
      },
      explain: (request) => {
        if (!canExplain(dp)) {
          throw new SecureNosqlError('CONFIG_INVALID', 'explain() needs a local policy document or a FilePolicy; the configured decision point cannot explain its decisions.', {
            remediation: 'Pass a policy document (or watchPolicyFile(...)) as `policy`, or ask the remote decision point directly.',
          });
        }
        return dp.explain(withSubject(request));
      },
    };
  }

  #context(): DriverContext {
    this.#assertOpen();
    return { serviceId: this.serviceId, certificates: this.certificates, tokens: this.tokens, guard: this.guard };
  }

  #track<T>(client: T): T {
    if (isClosable(client)) this.#clients.add(client);
    return client;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'This secure-nosql factory was closed; create a new one with createSecureClientFactory().');
  }

  async mongodb(options: SecureMongoOptions): Promise<SecureMongoClient> {
    const ctx = this.#context();
    const { createMongoClient } = await import('./drivers/mongodb/index.js');
    return this.#track(await createMongoClient(ctx, options));
  }

  async dynamodb(options: SecureDynamoDbOptions): Promise<DynamoDBClient> {
    const ctx = this.#context();
    const { createDynamoDbClient } = await import('./drivers/dynamodb/index.js');
    const client = await createDynamoDbClient(ctx, options);
    // DynamoDBClient.destroy() is synchronous; wrap it so close() treats every client alike.
    this.#clients.add({
      close: () => {
        client.destroy();
        return Promise.resolve();
      },
    });
    return client;
  }

  http(options: SecureHttpOptions): SecureHttpClient {
    return this.#track(createHttpClient(this.#context(), options));
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const deadlineMs = options.deadlineMs ?? 5_000;
    if (options.revokeTokens === true) {
      // A failing or hanging issuer must not hold shutdown past the deadline.
      await withDeadline(this.tokens.revokeAll(AbortSignal.timeout(deadlineMs)), deadlineMs);
    }
    await withDeadline(Promise.allSettled([...this.#clients].map((c) => c.close())), deadlineMs);
    this.#clients.clear();
    await this.tokens.close();
    await this.guard.close();
    await this.certificates.close();
    if (isClosable(this.#decisionPoint)) await withDeadline(this.#decisionPoint.close(), deadlineMs);
    if (this.#audit?.close !== undefined) await withDeadline(this.#audit.close(), deadlineMs);
    this.#telemetry.close();
  }
}
