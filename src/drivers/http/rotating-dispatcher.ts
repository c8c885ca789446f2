import { Agent, Dispatcher } from 'undici';
import type { CertificateSource } from '../../certificates/types.js';
import { SecureNosqlError } from '../../errors/index.js';
import type { Disposable } from '../../internal/events.js';
import { failDispatch } from './interceptors.js';

/**
 * A dispatcher that sends every request through the agent of the current
 * certificate generation. On a rotation it starts a fresh agent (whose new
 * connections present the new certificate) and closes the previous one
 * gracefully: requests already dispatched to it finish on their sockets,
 * then its keep-alive sockets close. Nothing fails because of a rotation, and
 * new requests stop reusing old-certificate sockets immediately instead of
 * whenever their keep-alive timeout expires.
 */
export class RotatingDispatcher extends Dispatcher {
  readonly #createAgent: () => Agent;
  readonly #subscription: Disposable;
  readonly #draining = new Map<Agent, Promise<void>>();
  #current: Agent;
  #closed = false;
  #rotations = 0;

  constructor(certificates: CertificateSource, createAgent: () => Agent) {
    super();
    this.#createAgent = createAgent;
    this.#current = createAgent();
    this.#subscription = certificates.on((event) => {
      if (event.type === 'rotated') this.rotate();
    });
  }

  /** Agents replaced by rotations so far. */
  get rotations(): number {
    return this.#rotations;
  }

  /** Old agents still finishing their in-flight requests. */
  get draining(): number {
    return this.#draining.size;
  }

  /** Switches new requests to a fresh agent and drains the previous one. Called on every `rotated` event. */
  rotate(): void {
    if (this.#closed) return;
    const previous = this.#current;
    this.#current = this.#createAgent();
    this.#rotations++;
    // close() waits for dispatched requests, then ends the sockets; a failure to close must not surface anywhere.
    const drained = previous.close().catch(() => undefined);
    this.#draining.set(previous, drained);
    void drained.finally(() => this.#draining.delete(previous));
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      // A typed, final error: the guard passes it through without retrying.
      failDispatch(handler, new SecureNosqlError('CLOSED', 'The secure HTTP client was closed; create a new one to send more requests.'));
      return false;
    }
    return this.#current.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    const done = this.#shutdown((agent) => agent.close(), false);
    if (callback === undefined) return done;
    void done.then(callback, callback);
    return undefined;
  }

  override destroy(error?: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
    const error = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const done = this.#shutdown((agent) => agent.destroy(error), true);
    if (callback === undefined) return done;
    void done.then(callback, callback);
    return undefined;
  }

  async #shutdown(end: (agent: Agent) => Promise<void>, draining: boolean): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#subscription.dispose();
    }
    const old = [...this.#draining].map(([agent, drained]) => (draining ? end(agent) : drained));
    await Promise.allSettled([end(this.#current), ...old]);
  }
}
