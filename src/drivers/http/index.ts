export { createHttpClient } from './client.js';
export { canonicalizePath } from './canonical-path.js';
export type { CanonicalTarget } from './canonical-path.js';
export { classifyHttpFailure, isInvalidTokenChallenge, HttpStatusError } from './classify.js';
export type { SecureHttpOptions, SecureHttpRequest, SecureHttpResponse, SecureHttpClient } from './types.js';
