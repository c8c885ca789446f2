import type { SecureContext } from 'node:tls';
import type { Disposable, Listener } from '../internal/events.js';

/**
 * One consistent, validated set of workload credentials. A new generation is
 * published only when certificate, key and bundle agree.
 */
export interface CertificateGeneration {
  /** Monotonic generation number, starting at 1. */
  readonly generation: number;
  /** Leaf certificate followed by any intermediates, PEM. */
  readonly certificatePem: string;
  /** Trust bundle (CA certificates), PEM. */
  readonly bundlePem: string;
  /**
   * Private key, PEM. Non-enumerable on the object so it never reaches JSON or
   * `util.inspect`; read it only to build TLS material.
   */
  readonly privateKeyPem: string;
  /** One secure context per generation (TLS ≥ 1.2, client cert + key + bundle). */
  readonly secureContext: SecureContext;
  /** The leaf's SPIFFE ID (its URI SAN), when it has one. */
  readonly spiffeId: string | undefined;
  /** Leaf validity start. */
  readonly notBefore: Date;
  /** Leaf validity end. */
  readonly notAfter: Date;
  /** RFC 8705 `x5t#S256`: base64url SHA-256 of the leaf DER. */
  readonly thumbprintSha256: string;
  /** Leaf serial number, hex. */
  readonly serialNumber: string;
  /** Where the set was loaded from (file paths, for messages). */
  readonly paths: { readonly certificate: string; readonly key: string; readonly bundle: string };
}

/** Emitted when a new generation is published. */
export interface CertificateRotatedEvent {
  readonly type: 'rotated';
  readonly previous: CertificateGeneration;
  readonly current: CertificateGeneration;
}

/** Emitted when a changed set on disk was rejected; the last good generation stays current. */
export interface CertificateRejectedEvent {
  readonly type: 'rejected';
  /** A SecureNosqlError (code CERT_*) describing why; never contains PEM content. */
  readonly error: Error;
  readonly current: CertificateGeneration;
}

/** Emitted when the current leaf passes the warning fraction (default 80%) of its lifetime. */
export interface CertificateExpiringEvent {
  readonly type: 'expiring';
  readonly current: CertificateGeneration;
  readonly secondsToExpiry: number;
}

/** Any certificate event. */
export type CertificateEvent = CertificateRotatedEvent | CertificateRejectedEvent | CertificateExpiringEvent;

/**
 * The source of the workload's current TLS material. One method to read the
 * current generation, typed events, and `close()`.
 */
export interface CertificateSource {
  /** The current (last good) generation. Synchronous and cheap. */
  current(): CertificateGeneration;
  /** Subscribes to rotation, rejection and expiry events. */
  on(listener: Listener<CertificateEvent>): Disposable;
  /** Stops watching; leaves no timer or handle open. */
  close(): Promise<void>;
}

/** How a client verifies the server it connects to. Verification against the bundle is always on. */
export interface ServerVerification {
  /**
   * Authorize the server by SPIFFE ID instead of hostname: an exact ID
   * (`spiffe://td/ns/x/sa/y`) or a whole trust domain (`spiffe://td`).
   */
  readonly serverId?: string;
  /** Base64 SHA-256 SPKI pins (several allowed for rotation); the server key must match one. */
  readonly pins?: readonly string[];
  /** SNI / hostname to verify when no serverId is set. */
  readonly servername?: string;
}
