/** A handle that removes what it was returned for. */
export interface Disposable {
  /** Removes the listener; calling it twice is harmless. */
  dispose(): void;
}

/** A listener for events of type `T`. */
export type Listener<T> = (event: T) => void;

/**
 * A tiny typed event: `on(listener)` returns a {@link Disposable}. A listener
 * that throws never breaks the emitter or the other listeners.
 */
export class EventChannel<T> {
  #listeners: Listener<T>[] = [];

  /** Adds a listener; dispose the result to remove it. */
  on(listener: Listener<T>): Disposable {
    this.#listeners = [...this.#listeners, listener];
    return {
      dispose: () => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
      },
    };
  }

  /** Calls every listener with `event`; listener errors are swallowed. */
  emit(event: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // user hooks are isolated: a throwing listener cannot break a call
      }
    }
  }

  /** True when at least one listener is attached (to skip building events nobody reads). */
  get hasListeners(): boolean {
    return this.#listeners.length > 0;
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners = [];
  }
}
