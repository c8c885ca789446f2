import { classifyNetworkError } from '../../resilience/classify.js';
import type { Classification } from '../../resilience/types.js';

const STALE = new Set(['ExpiredTokenException', 'ExpiredToken', 'UnrecognizedClientException']);
const REJECTED = new Set(['InvalidSignatureException', 'IncompleteSignatureException', 'MissingAuthenticationTokenException', 'InvalidClientTokenId', 'SignatureDoesNotMatch']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied']);
const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottledException',
  'TooManyRequestsException',
  'LimitExceededException',
  'TransactionInProgressException',
]);
const SERVER = new Set(['InternalServerError', 'InternalFailure', 'InternalServerException', 'ServiceUnavailable', 'ServiceUnavailableException']);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

function httpStatusOf(error: unknown): number | undefined {
  const status = field(field(error, '$metadata'), 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/**
 * The DynamoDB adapter's error classifier (DESIGN.md §5): ExpiredToken and
 * UnrecognizedClient are stale credentials (one refresh; a second one the
 * guard turns into AUTH_REJECTED); signature failures are definitive;
 * AccessDenied is an authorization denial; throttling, 5xx and network
 * faults are transient; everything else (ValidationException,
 * ConditionalCheckFailedException, TransactionCanceledException, ...) is
 * permanent. Reasons are error names, never messages.
 */
export function classifyDynamoDbError(error: unknown): Classification {
  const name = field(error, 'name');
  const errName = typeof name === 'string' ? name : 'Error';
  const reason = `dynamodb_${errName}`;
  if (STALE.has(errName)) return { class: 'stale_credential', reason };
  if (REJECTED.has(errName)) return { class: 'auth_rejected', reason };
  if (DENIED.has(errName)) return { class: 'access_denied', reason };
  if (THROTTLED.has(errName)) return { class: 'transient', reason, ambiguous: false };
  const status = httpStatusOf(error);
  if (SERVER.has(errName) || (status !== undefined && status >= 500)) {
    // DynamoDB documents that a request answered with a 500 may have been applied; a 503 was not.
    const ambiguous = status === 500 || errName.startsWith('Internal');
    return { class: 'transient', reason: status === undefined ? reason : `dynamodb_http_${status}`, ambiguous };
  }
  const network = classifyNetworkError(error);
  if (network !== undefined) return network;
  // A socket/request timeout of the HTTP handler: the request may have been applied.
  if (TIMEOUTS.has(errName)) return { class: 'transient', reason, ambiguous: true };
  return { class: 'permanent', reason };
}
