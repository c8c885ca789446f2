import { describe, expect, it } from 'vitest';
import { IsoTime } from '../../src/resilience/iso-time.js';

describe('IsoTime', () => {
  it('matches Date#toISOString across seconds, milliseconds and fractional inputs', () => {
    const iso = new IsoTime();
    const base = Date.parse('2026-12-04T20:07:25.000Z');
    for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 59_999, 86_400_000 - 1, 12.7, 999.9]) {
      expect(iso.format(base + ms)).toBe(new Date(base + ms).toISOString());
    }
    expect(iso.format(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
