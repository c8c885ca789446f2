import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { classifyNetworkError, parseRetryAfter } from '../../src/resilience/index.js';

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['7'], now)).toBe(7000);
    expect(parseRetryAfter(2, now)).toBe(2000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
  it('returns undefined for absent or malformed values', () => {
    for (const v of [undefined, null, '', 'soon', '-1', '1.5x', [], -3, Number.NaN]) expect(parseRetryAfter(v as never)).toBeUndefined();
  });
});

describe('classifyNetworkError', () => {
  it('connection refused on a real socket is transient and unambiguous', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => { r(); }));
    const error = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').on('error', resolve));
    expect(classifyNetworkError(error)).toEqual({ class: 'transient', reason: 'econnrefused', ambiguous: false });
  });

  it('a reset after sending is transient and ambiguous', async () => {
    const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const error = await new Promise<Error>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('request'));
      s.on('error', resolve);
    });
    await new Promise<void>((r) => server.close(() => { r(); }));
    expect(classifyNetworkError(error)).toEqual({ class: 'transient', reason: 'econnreset', ambiguous: true });
  });

  it('follows cause chains and knows undici codes; other errors are left to the adapter', () => {
    const wrapped = new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }) });
    expect(classifyNetworkError(wrapped)).toEqual({ class: 'transient', reason: 'und_err_socket', ambiguous: true });
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))?.ambiguous).toBe(false);
    expect(classifyNetworkError(new Error('validation failed'))).toBeUndefined();
    expect(classifyNetworkError('string')).toBeUndefined();
  });
});
