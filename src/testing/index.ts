/**
 * Test doubles for secure-nosql and for services that use it: a test PKI in
 * the layouts cert-manager and spiffe-helper write, and a mock token issuer
 * (OAuth 2.0 + AWS STS) so tests need no cloud.
 *
 * @packageDocumentation
 */
export { createTestPki, writeAtomicSet, writeFilesOneByOne, listPayloadDirs, LAYOUT_FILES } from './pki/index.js';
export type {
  CreateTestPkiOptions,
  IssueOptions,
  IssuedCertificate,
  BadVariant,
  WriteOptions,
  TestPki,
  PkiLayout,
  LayoutFileNames,
  CertificateFiles,
  OneByOneOptions,
  KeyUsageName,
} from './pki/index.js';
export { MockTokenIssuer } from './issuer/index.js';
export type {
  MintSubjectTokenOptions,
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
} from './issuer/index.js';
