import { randomUUID } from 'node:crypto';
import type { HandlerExecutionContext, InitializeHandlerArguments, InitializeHandlerOutput, InitializeMiddleware, MetadataBearer } from '@smithy/types';
import { hasErrorCode } from '../../errors/index.js';
import type { CredentialHook, Guard, OperationDescriptor } from '../../resilience/types.js';
import { classifyDynamoDbError } from './classify.js';
import { describeDynamoDbCommand } from './commands.js';
import type { SessionCredentials } from './session-credentials.js';

/** What the middleware needs. @internal */
export interface GuardMiddlewareDeps {
  readonly guard: Guard;
  readonly credential: CredentialHook<SessionCredentials>;
  readonly target: string;
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly audience: string;
  /** True for the SDK's modelled service errors, which pass through unchanged when permanent. */
  readonly isServiceException: (error: unknown) => boolean;
}

/** Operations whose ClientRequestToken is pinned once so every attempt is deduplicated by DynamoDB. */
const PINNED_TOKEN = new Set(['TransactWriteItems', 'ExecuteTransaction']);

function operationOf(context: HandlerExecutionContext): string {
  const name = typeof context.commandName === 'string' ? context.commandName : '';
  return name.endsWith('Command') ? name.slice(0, -'Command'.length) : name;
}

function abortSignalOf(context: HandlerExecutionContext): AbortSignal | undefined {
  const signal = (context as { __smithy_context?: { abortSignal?: unknown } }).__smithy_context?.abortSignal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * The initialize-step middleware that routes every command of the client
 * through the guard: it derives the policy accesses from the command name and
 * input, pins transaction tokens, and lets the guard run the rest of the
 * stack (serialize ▸ sign ▸ send ▸ deserialize) as the attempt. The SDK's own
 * retries are off (`maxAttempts: 1`), so the guard owns every retry.
 *
 * Permanent failures that are modelled DynamoDB errors
 * (ConditionalCheckFailedException, TransactionCanceledException,
 * ValidationException, ResourceNotFoundException, ...) are rethrown as the
 * original SDK error so `instanceof` and `error.name` checks keep working;
 * the guard has audited them as UPSTREAM_ERROR. Everything else surfaces as
 * a SecureNosqlError.
 */
export function guardMiddleware(deps: GuardMiddlewareDeps): InitializeMiddleware<object, MetadataBearer> {
  return (next, context) =>
    async (args: InitializeHandlerArguments<object>): Promise<InitializeHandlerOutput<MetadataBearer>> => {
      const operation = operationOf(context);
      const description = describeDynamoDbCommand(operation, args.input);
      let forwarded = args;
      const input = args.input as Record<string, unknown>;
      if (PINNED_TOKEN.has(operation) && input.ClientRequestToken === undefined) {
        forwarded = { ...args, input: { ...input, ClientRequestToken: randomUUID() } };
      }
      const op: OperationDescriptor = {
        system: 'dynamodb',
        operation,
        target: deps.target,
        accesses: description.accesses,
        idempotent: description.idempotent,
        ...(description.table === undefined ? {} : { collection: description.table }),
        serverAddress: deps.serverAddress,
        serverPort: deps.serverPort,
        audience: deps.audience,
      };
      const signal = abortSignalOf(context);
      try {
        return await deps.guard.run({
          op,
          attempt: () => next(forwarded),
          classify: classifyDynamoDbError,
          credential: deps.credential,
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (error) {
        if (hasErrorCode(error, 'UPSTREAM_ERROR') && error.details?.class === 'permanent' && deps.isServiceException(error.cause)) throw error.cause;
        throw error;
      }
    };
}
