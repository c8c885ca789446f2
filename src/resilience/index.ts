export { createGuard, GuardPipeline } from './guard.js';
export type { GuardOptions } from './guard.js';
export type { BreakerOptions, BreakerRegistryOptions, BreakerStateChange } from './breaker.js';
export type { RetryOptions } from './backoff.js';
export type { RetryBudgetOptions } from './retry-budget.js';
export { parseRetryAfter, classifyNetworkError } from './classify.js';
export type {
  FailureClass,
  Classification,
  ErrorClassifier,
  OperationDescriptor,
  CredentialHook,
  AttemptContext,
  GuardCallOptions,
  GuardedCall,
  Guard,
} from './types.js';
