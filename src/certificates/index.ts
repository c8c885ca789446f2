export { FileCertificateSource, loadCertificateSource } from './file-source.js';
export type { CertificateSourceOptions } from './file-source.js';
export { validateCertificateSet } from './validate.js';
export type { CertificateSet, ValidationOptions, ValidatedSet } from './validate.js';
export { spkiPin, validatePins } from './pin.js';
export { tlsConnectOptions, tlsConnector, createServerIdentityCheck, assertSecureTlsOptions, SESSION_CACHE_OFF } from './tls.js';
export type { ServerIdentityCheck } from './tls.js';
export type {
  CertificateGeneration,
  CertificateEvent,
  CertificateRotatedEvent,
  CertificateRejectedEvent,
  CertificateExpiringEvent,
  CertificateSource,
  ServerVerification,
} from './types.js';
