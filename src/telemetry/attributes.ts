/** Instrumentation scope name for the tracer and the meter. */
export const INSTRUMENTATION_SCOPE = 'secure-nosql';

/**
 * Attribute names: the stable OpenTelemetry semantic conventions plus this
 * library's own under `secure_nosql.*`. Kept as constants so spans, metrics
 * and tests spell them the same way.
 */
export const ATTR = Object.freeze({
  DB_SYSTEM_NAME: 'db.system.name',
  DB_NAMESPACE: 'db.namespace',
  DB_COLLECTION_NAME: 'db.collection.name',
  DB_OPERATION_NAME: 'db.operation.name',
  HTTP_REQUEST_METHOD: 'http.request.method',
  URL_TEMPLATE: 'url.template',
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  ERROR_TYPE: 'error.type',
  AUDIENCE: 'secure_nosql.audience',
  TOKEN_CACHE: 'secure_nosql.token_cache',
  RETRY_COUNT: 'secure_nosql.retry_count',
  BREAKER_STATE: 'secure_nosql.breaker_state',
  POLICY_DECISION: 'secure_nosql.policy.decision',
  POLICY_RULE_ID: 'secure_nosql.policy.rule_id',
  SYSTEM: 'secure_nosql.system',
  OPERATION: 'secure_nosql.operation',
  OUTCOME: 'secure_nosql.outcome',
  TARGET: 'secure_nosql.target',
  FAILURE_CLASS: 'secure_nosql.failure.class',
  FAILURE_REASON: 'secure_nosql.failure.reason',
  ATTEMPT: 'secure_nosql.attempt',
  DELAY_MS: 'secure_nosql.delay_ms',
  TOKEN_RESULT: 'secure_nosql.token.result',
  CERTIFICATE_EVENT: 'secure_nosql.certificate.event',
} as const);

/** Metric instrument names. */
export const METRIC = Object.freeze({
  OPERATION_DURATION: 'secure_nosql.operation.duration',
  AUTH_FAILURES: 'secure_nosql.auth.failures',
  BREAKER_STATE: 'secure_nosql.breaker.state',
  BREAKER_TRANSITIONS: 'secure_nosql.breaker.transitions',
  TOKEN_CACHE_RESULTS: 'secure_nosql.token.cache.results',
  TOKEN_FETCH_DURATION: 'secure_nosql.token.fetch.duration',
  CERTIFICATE_SECONDS_TO_EXPIRY: 'secure_nosql.certificate.seconds_to_expiry',
  CERTIFICATE_EVENTS: 'secure_nosql.certificate.events',
} as const);

/** Span event names. */
export const SPAN_EVENT = Object.freeze({
  RETRY: 'retry',
  TOKEN_REFRESH: 'token.refresh',
  CERTIFICATE_ROTATION: 'certificate.rotation',
} as const);

/** `db.system.name` for each store kind (semconv: `mongodb`, `aws.dynamodb`); HTTP spans carry none. */
export function dbSystemName(system: 'mongodb' | 'dynamodb' | 'http'): string | undefined {
  if (system === 'mongodb') return 'mongodb';
  if (system === 'dynamodb') return 'aws.dynamodb';
  return undefined;
}
