import type { CertificateSource } from '../certificates/types.js';
import type { Guard } from '../resilience/types.js';
import type { TokenProvider } from '../tokens/types.js';

/** What the factory hands each driver adapter. Adapters add no policy, retry, breaker or span logic of their own. */
export interface DriverContext {
  /** The calling service's SPIFFE ID. */
  readonly serviceId: string;
  /** Current TLS material and rotation events. */
  readonly certificates: CertificateSource;
  /** The shared token cache. */
  readonly tokens: TokenProvider;
  /** The shared guard pipeline. */
  readonly guard: Guard;
}
