import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { tlsConnectOptions, SESSION_CACHE_OFF } from '../../certificates/index.js';
import type { CertificateSource, ServerVerification } from '../../certificates/types.js';
import type { Disposable } from '../../internal/events.js';

const GENERATION = Symbol('secure-nosql.certificateGeneration');

type TaggedSocket = Duplex & { [GENERATION]?: number };

/**
 * An `https.Agent` whose every new connection presents the CURRENT
 * certificate generation (TLS options built per connection by
 * `tlsConnectOptions`), so a rotation needs no new client: connections opened
 * after it use the new certificate; pooled sockets of an older generation are
 * not kept alive after their request (they drain), and idle ones are closed
 * at rotation. TLS session resumption is off so server checks run on every
 * handshake.
 */
export class RotatingHttpsAgent extends Agent {
  readonly #source: CertificateSource;
  readonly #verification: ServerVerification;
  readonly #subscription: Disposable;

  constructor(source: CertificateSource, verification: ServerVerification = {}, options: AgentOptions = {}) {
    super({ keepAlive: true, maxSockets: 50, ...options, ...SESSION_CACHE_OFF });
    this.#source = source;
    this.#verification = verification;
    tlsConnectOptions(source, verification); // validates the verification settings up front (CONFIG_INVALID)
    this.#subscription = source.on((event) => {
      if (event.type === 'rotated') this.#dropIdle();
    });
  }

  override createConnection(options: RequestOptions): Duplex {
    const generation = this.#source.current().generation;
    const tlsOptions = tlsConnectOptions(this.#source, this.#verification);
    // Connection details (host, port, servername) come from the request; all trust material from the source.
    const socket: TaggedSocket = connect({
      host: options.host ?? options.hostname ?? 'localhost',
      port: Number(options.port ?? 443),
      ...(typeof options.servername === 'string' && options.servername !== '' ? { servername: options.servername } : {}),
      ...tlsOptions,
    });
    socket[GENERATION] = generation;
    // Returning the socket is enough: Node's agent calls its own callback when createConnection returns one.
    return socket;
  }

  /** Node destroys a socket after its request when this returns false: old-generation sockets drain that way. */
  override keepSocketAlive(socket: Duplex): boolean {
    if ((socket as TaggedSocket)[GENERATION] !== this.#source.current().generation) return false;
    // Node's base implementation returns a boolean (false when the server asked to close); its typings say void.
    // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- the typings say void; the value is a boolean
    const keep: unknown = super.keepSocketAlive(socket);
    return keep !== false;
  }

  #dropIdle(): void {
    for (const sockets of Object.values(this.freeSockets)) {
      for (const socket of sockets ?? []) socket.destroy();
    }
  }

  /** Stops following rotations and closes every socket. */
  override destroy(): void {
    this.#subscription.dispose();
    super.destroy();
  }
}
