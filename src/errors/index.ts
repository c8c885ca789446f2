export { SecureNosqlError, isSecureNosqlError, hasErrorCode } from './secure-nosql-error.js';
export type { SecureNosqlErrorOptions, PublicErrorView, SecureNosqlErrorJSON } from './secure-nosql-error.js';
export { ERROR_CODES, DEFAULT_REMEDIATION } from './codes.js';
export type { ErrorCode } from './codes.js';
