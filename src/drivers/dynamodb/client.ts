import { Agent as HttpsAgent } from 'node:https';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecureNosqlError } from '../../errors/index.js';
import type { CredentialHook } from '../../resilience/types.js';
import { IssuerTransport } from '../../tokens/issuer-transport.js';
import type { DriverContext } from '../types.js';
import { guardMiddleware } from './guard-middleware.js';
import { GUARD_MIDDLEWARE_NAME } from './middleware-name.js';
import { RotatingHttpsAgent } from './https-agent.js';
import { resolveDynamoDbOptions, type SecureDynamoDbOptions } from './options.js';
import type { SessionCredentials } from './session-credentials.js';
import { WebIdentityCredentials } from './web-identity-credentials.js';

type DynamoDbModule = typeof import('@aws-sdk/client-dynamodb');
type NodeHttpHandlerModule = typeof import('@smithy/node-http-handler');

function isModuleMissing(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(name);
}

async function loadSdk(): Promise<{ sdk: DynamoDbModule; http: NodeHttpHandlerModule }> {
  try {
    const [sdk, http] = await Promise.all([import('@aws-sdk/client-dynamodb'), import('@smithy/node-http-handler')]);
    return { sdk, http };
  } catch (error) {
    for (const name of ['@aws-sdk/client-dynamodb', '@smithy/node-http-handler']) {
      if (isModuleMissing(error, name)) {
        throw new SecureNosqlError('DEPENDENCY_MISSING', `secure.dynamodb() needs the optional peer dependency ${name}, which is not installed.`, {
          remediation: `Run \`npm install ${name}\` in the service (it is an optional peer dependency of secure-nosql).`,
          cause: error,
          details: { package: name },
        });
      }
    }
    throw error;
  }
}

/**
 * Creates a real `DynamoDBClient` (a `DynamoDBDocumentClient` works on top)
 * that authenticates as the workload:
 *
 * - credentials: `AssumeRoleWithWebIdentity` with a token for `audience` from
 *   the shared token cache; cached, refreshed ahead of expiry, one STS call
 *   for any number of concurrent commands;
 * - transport: for `endpointTrust: 'workload'` an https.Agent that presents
 *   the current certificate generation on every new connection (rotation
 *   needs no new client);
 * - policy, guard pipeline and audit: the `secureNosqlGuard` middleware on the
 *   client's middleware stack (initialize step);
 * - retries: owned by the guard; the SDK runs with `maxAttempts: 1`, so
 *   throttling/5xx are retried once per guard attempt, never multiplied;
 * - errors: auth, access, policy, transient and abort failures are
 *   SecureNosqlErrors; modelled permanent DynamoDB errors
 *   (ConditionalCheckFailedException, TransactionCanceledException,
 *   ValidationException, ...) are rethrown unchanged so `instanceof` checks
 *   keep working (the audit records them as UPSTREAM_ERROR);
 * - ListTables and other account-wide reads need `read` on `dynamodb:*`,
 *   which only a rule covering every table grants.
 *
 * `client.destroy()` also releases the credential cache, the agents and the
 * rotation subscription.
 *
 * @throws SecureNosqlError `CONFIG_INVALID` for bad options, `DEPENDENCY_MISSING` without `@aws-sdk/client-dynamodb`.
 */
export async function createDynamoDbClient(ctx: DriverContext, options: SecureDynamoDbOptions): Promise<DynamoDBClient> {
  const o = resolveDynamoDbOptions(ctx.serviceId, options);
  const { sdk, http } = await loadSdk();

  const stsTransport = new IssuerTransport({ certificates: o.stsTrust === 'workload' ? ctx.certificates : undefined });
  const credentials = new WebIdentityCredentials({
    tokens: ctx.tokens,
    audience: o.audience,
    roleArn: o.roleArn,
    sessionName: o.sessionName,
    durationSeconds: o.sessionDurationSeconds,
    stsEndpoint: o.stsEndpoint,
    dispatcher: () => stsTransport.current().agent,
    ...(o.refreshAt === undefined ? {} : { refreshAt: o.refreshAt }),
    ...(o.refreshBeforeMs === undefined ? {} : { refreshBeforeMs: o.refreshBeforeMs }),
  });
  const httpsAgent =
    o.endpointTrust === 'workload' ? new RotatingHttpsAgent(ctx.certificates, o.serverVerification) : new HttpsAgent({ keepAlive: true, maxSockets: 50 });
  const requestHandler = new http.NodeHttpHandler({
    httpsAgent,
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.connectionTimeoutMs,
  });

  const client = new sdk.DynamoDBClient({
    ...o.clientConfig,
    region: o.region,
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint.href.replace(/\/$/, '') }),
    credentials: credentials.provider,
    requestHandler,
    // One retry owner: the guard. The SDK's standard strategy would multiply attempts and ignore auth classes.
    maxAttempts: 1,
    accountIdEndpointMode: 'disabled',
  });

  const hook: CredentialHook<SessionCredentials> = {
    acquire: (signal) => credentials.get(signal),
    invalidate: (stale) => {
      credentials.invalidate(stale);
    },
  };
  const ServiceException = sdk.DynamoDBServiceException;
  client.middlewareStack.add(
    guardMiddleware({
      guard: ctx.guard,
      credential: hook,
      target: o.target,
      serverAddress: o.serverAddress,
      serverPort: o.serverPort,
      audience: o.audience,
      isServiceException: (error) => error instanceof ServiceException,
    }),
    { step: 'initialize', name: GUARD_MIDDLEWARE_NAME, priority: 'high', override: true },
  );

  const destroy = client.destroy.bind(client);
  client.destroy = () => {
    destroy(); // destroys the request handler and with it the https agent
    httpsAgent.destroy();
    void credentials.close();
    void stsTransport.close();
  };
  return client;
}
