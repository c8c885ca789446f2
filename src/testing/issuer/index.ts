export { MockTokenIssuer } from './mock-token-issuer.js';
export type { MintSubjectTokenOptions } from './mock-token-issuer.js';
export type {
  IssuerEndpoint,
  IssuerFault,
  MockClientAuthMethod,
  MockClientRegistration,
  MockIssuerPki,
  MockIssuerServerCertificate,
  MockTokenIssuerOptions,
  ReceivedRequest,
  StsSession,
  VerifiedAccessToken,
} from './types.js';
