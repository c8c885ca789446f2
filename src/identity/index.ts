export { parseSpiffeId, parseSpiffeIdPattern, matchSpiffeId, isSpiffeId } from './spiffe-id.js';
export type { SpiffeId } from './spiffe-id.js';
export { validateIdentityConfig } from './validate.js';
export { identityFromEnv } from './env.js';
export type { ServiceIdentityConfig, CertificateLocation, ClientAuthConfig, TokenConfig } from './types.js';
