/**
 * secure-nosql: reach MongoDB, DynamoDB and NoSQL HTTP APIs as a workload
 * identity. Start with {@link createSecureClientFactory}.
 *
 * @packageDocumentation
 */
export { createSecureClientFactory } from './factory.js';
export type { SecureClientFactory, SecureClientFactoryOptions, CloseOptions, PolicyView } from './factory.js';

export { SecureNosqlError, isSecureNosqlError, hasErrorCode, ERROR_CODES, DEFAULT_REMEDIATION } from './errors/index.js';
export type { ErrorCode, SecureNosqlErrorOptions, PublicErrorView, SecureNosqlErrorJSON } from './errors/index.js';

export { EventChannel } from './internal/events.js';
export type { Disposable, Listener } from './internal/events.js';

export { parseSpiffeId, parseSpiffeIdPattern, matchSpiffeId, isSpiffeId, validateIdentityConfig, identityFromEnv } from './identity/index.js';
export type { SpiffeId, ServiceIdentityConfig, CertificateLocation, ClientAuthConfig, TokenConfig } from './identity/index.js';

export {
  FileCertificateSource,
  loadCertificateSource,
  validateCertificateSet,
  spkiPin,
  validatePins,
  tlsConnectOptions,
  tlsConnector,
  createServerIdentityCheck,
  assertSecureTlsOptions,
  SESSION_CACHE_OFF,
} from './certificates/index.js';
export type {
  CertificateSourceOptions,
  CertificateSet,
  ValidationOptions,
  ValidatedSet,
  ServerIdentityCheck,
  CertificateGeneration,
  CertificateEvent,
  CertificateRotatedEvent,
  CertificateRejectedEvent,
  CertificateExpiringEvent,
  CertificateSource,
  ServerVerification,
} from './certificates/index.js';

export { TokenCache, OAuthTokenSource, TOKEN_EXCHANGE_GRANT, FileTokenSource, createTokenSource, createAccessToken } from './tokens/index.js';
export type {
  TokenCacheOptions,
  RevokeAllResult,
  OAuthTokenSourceOptions,
  FileTokenSourceOptions,
  CreateTokenSourceOptions,
  RevocableTokenSource,
  AccessTokenInit,
  AccessTokenJSON,
  IssuerMetadata,
  RetryOptions as IssuerRetryOptions,
  AccessToken,
  GetTokenOptions,
  TokenSource,
  TokenProvider,
  TokenCacheObserver,
  TokenCacheResult,
} from './tokens/index.js';

export { createGuard, GuardPipeline, parseRetryAfter, classifyNetworkError } from './resilience/index.js';
export type {
  GuardOptions,
  BreakerOptions,
  BreakerRegistryOptions,
  BreakerStateChange,
  RetryOptions,
  RetryBudgetOptions,
  FailureClass,
  Classification,
  ErrorClassifier,
  OperationDescriptor,
  CredentialHook,
  AttemptContext,
  GuardCallOptions,
  GuardedCall,
  Guard,
} from './resilience/index.js';

export { Telemetry, redact, REDACTED, ATTR, METRIC, SPAN_EVENT, INSTRUMENTATION_SCOPE, dbSystemName, BREAKER_STATE_VALUE } from './telemetry/index.js';
export type { TelemetryOptions, BreakerStateName, BreakerStateReader } from './telemetry/index.js';

export {
  compilePolicy,
  LocalDecisionPoint,
  parsePolicyText,
  validatePolicyDocument,
  ACTIONS,
  DAY_NAMES,
  FilePolicy,
  watchPolicyFile,
  loadPolicyFile,
  OpaDecisionPoint,
  CedarDecisionPoint,
} from './policy/index.js';
export type {
  LocalPolicyOptions,
  PolicyExplanation,
  AccessExplanation,
  RuleEvaluation,
  ConditionResult,
  PolicyDocument,
  ServicePolicy,
  PolicyRule,
  RuleConditions,
  TimeWindow,
  DayName,
  FilePolicyOptions,
  PolicyReloadEvent,
  OpaDecisionPointOptions,
  CedarDecisionPointOptions,
  DecisionPointStats,
  Action,
  ResourceAccess,
  DecisionRequest,
  DecisionContext,
  Decision,
  DecisionCode,
  DecisionPoint,
} from './policy/index.js';

export {
  JsonLinesAuditSink,
  MemoryAuditSink,
  fanOutAuditSink,
  sanitizeAuditRecord,
  AnomalyDetector,
  decisionAuditRecord,
  outcomeAuditRecord,
} from './audit/index.js';
export type {
  JsonLinesAuditSinkOptions,
  MemoryAuditSinkOptions,
  AnomalyDetectorOptions,
  Anomaly,
  AuditRecordFacts,
  OutcomeFacts,
  AuditRecord,
  AuditSink,
} from './audit/index.js';

export type { DriverContext } from './drivers/types.js';
export type { SecureHttpOptions, SecureHttpRequest, SecureHttpResponse, SecureHttpClient } from './drivers/http/index.js';
export type { SecureMongoClient, GuardedDb, SecureMongoEvent, SecureMongoOptions, SafeMongoDriverOptions, GuardedCollection, GuardedCursor, GuardedFindCursor } from './drivers/mongodb/index.js';
export type { SecureDynamoDbOptions, SafeDynamoDbClientConfig, EndpointTrust } from './drivers/dynamodb/index.js';
export { createHttpClient } from './drivers/http/index.js';
export { createMongoClient } from './drivers/mongodb/index.js';
export { createDynamoDbClient } from './drivers/dynamodb/index.js';

export { runDoctor, renderDoctorReport, formatDoctorReport } from './cli/index.js';
export type { DoctorOptions, DoctorReport, DoctorCheck, DoctorStatus, DoctorFacts, DoctorConfigFile } from './cli/index.js';
