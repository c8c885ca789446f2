/**
 * Formats ms-since-epoch timestamps as ISO-8601 cheaply: `Date#toISOString`
 * costs far more than the rest of an audited call, so the
 * `YYYY-MM-DDTHH:MM:SS.` prefix is cached per second and only the
 * milliseconds are appended.
 */
export class IsoTime {
  #second = Number.NaN;
  #prefix = '';

  /** The ISO-8601 UTC form of `ms`, identical to `new Date(ms).toISOString()`. */
  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      const iso = new Date(second * 1000).toISOString(); // e.g. 2026-12-04T20:07:25.000Z
      this.#prefix = iso.slice(0, iso.length - 4);
      this.#second = second;
    }
    const millis = ms - second * 1000;
    return `${this.#prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${Math.floor(millis)}Z`;
  }
}
