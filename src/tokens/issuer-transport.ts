import { createSecureContext, type SecureContext } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { CertificateGeneration, CertificateSource } from '../certificates/types.js';
import type { Disposable } from '../internal/events.js';

/** How the issuer client reaches the issuer over TLS. */
export interface IssuerTransportOptions {
  /** Workload certificates: presented as the client certificate (mTLS); their bundle verifies the issuer. */
  readonly certificates?: CertificateSource | undefined;
  /** Extra trust anchors (PEM) for the issuer's server certificate. */
  readonly ca?: string | readonly string[] | undefined;
}

/**
 * Owns the undici Agent used to talk to the issuer. The client certificate
 * is the current certificate generation: on rotation a new Agent replaces
 * the old one (which drains), so no pooled or resumed TLS session keeps
 * presenting a retired certificate to the issuer.
 */
export class IssuerTransport {
  readonly #options: IssuerTransportOptions;
  #agent: Agent;
  #generation: number | undefined;
  readonly #subscription: Disposable | undefined;
  readonly #retired = new Set<Agent>();

  constructor(options: IssuerTransportOptions) {
    this.#options = options;
    const current = options.certificates?.current();
    this.#generation = current?.generation;
    this.#agent = this.#build(current);
    this.#subscription = options.certificates?.on((event) => {
      if (event.type === 'rotated') this.#swap(event.current);
    });
  }

  /** The Agent for the current certificate generation and that generation's number. */
  current(): { readonly agent: Agent; readonly generation: number | undefined } {
    const gen = this.#options.certificates?.current();
    // Also checked here: a rotation event may be delivered after a caller reads current().
    if (gen !== undefined && gen.generation !== this.#generation) this.#swap(gen);
    return { agent: this.#agent, generation: this.#generation };
  }

  #swap(gen: CertificateGeneration): void {
    if (gen.generation === this.#generation) return;
    const old = this.#agent;
    this.#generation = gen.generation;
    this.#agent = this.#build(gen);
    this.#retired.add(old);
    void old.close().catch(() => undefined).finally(() => this.#retired.delete(old));
  }

  #build(gen: CertificateGeneration | undefined): Agent {
    const extra = this.#options.ca === undefined ? [] : typeof this.#options.ca === 'string' ? [this.#options.ca] : [...this.#options.ca];
    let secureContext: SecureContext | undefined;
    if (gen !== undefined) {
      secureContext =
        extra.length === 0
          ? gen.secureContext
          : createSecureContext({ cert: gen.certificatePem, key: gen.privateKeyPem, ca: [gen.bundlePem, ...extra], minVersion: 'TLSv1.2' });
    }
    const connector = buildConnector({
      ...(secureContext === undefined ? {} : { secureContext }),
      ...(secureContext === undefined && extra.length > 0 ? { ca: extra } : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    });
    return new Agent({ connect: connector, keepAliveTimeout: 10_000, connections: 8 });
  }

  /** Closes every Agent (current and draining). */
  async close(): Promise<void> {
    this.#subscription?.dispose();
    const agents = [this.#agent, ...this.#retired];
    this.#retired.clear();
    await Promise.all(agents.map((a) => a.destroy().catch(() => undefined)));
  }
}
