import { describe, expect, it } from 'vitest';
import { classifyHttpFailure, HttpStatusError, isInvalidTokenChallenge } from '../../src/drivers/http/index.js';
import { SecureNosqlError } from '../../src/errors/index.js';

describe('WWW-Authenticate parsing', () => {
  it.each([
    ['Bearer error="invalid_token"', true],
    ['Bearer realm="docs", error="invalid_token", error_description="expired"', true],
    ['bearer error=invalid_token', true],
    ['Basic realm="x", Bearer error="invalid_token"', true],
    ['Bearer realm="docs"', false],
    ['Bearer error="insufficient_scope"', false],
    ['Bearer error="invalid_request"', false],
    ['DPoP error="invalid_token"', false],
    ['Bearer realm="docs", DPoP error="invalid_token"', false],
    ['Bearer error="invalid_token_x"', false],
    ['', false],
  ])('%s → %s', (header, expected) => {
    expect(isInvalidTokenChallenge(header)).toBe(expected);
  });
});

describe('classifyHttpFailure', () => {
  const status = (code: number, headers: Record<string, string> = {}): HttpStatusError => new HttpStatusError(code, headers);

  it('maps statuses to the decision-table classes', () => {
    expect(classifyHttpFailure(status(401, { 'www-authenticate': 'Bearer error="invalid_token"' }), true)).toEqual({ class: 'stale_credential', reason: 'http_401_invalid_token' });
    expect(classifyHttpFailure(status(401, { 'www-authenticate': 'Bearer error="invalid_token"' }), false).class).toBe('auth_rejected');
    expect(classifyHttpFailure(status(401), true).class).toBe('auth_rejected');
    expect(classifyHttpFailure(status(403), true).class).toBe('access_denied');
    expect(classifyHttpFailure(status(503, { 'retry-after': '3' }), true)).toEqual({ class: 'transient', reason: 'http_503', ambiguous: true, retryAfterMs: 3000 });
    expect(classifyHttpFailure(status(429), true).class).toBe('transient');
    expect(classifyHttpFailure(status(418), true)).toEqual({ class: 'permanent', reason: 'http_418' });
  });

  it('network errors are transient; a streamed body makes every one ambiguous', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyHttpFailure(refused, true)).toMatchObject({ class: 'transient', ambiguous: false });
    expect(classifyHttpFailure(refused, false)).toMatchObject({ class: 'transient', ambiguous: true });
    expect(classifyHttpFailure(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), true)).toMatchObject({ class: 'transient', ambiguous: true });
  });

  it('our own errors and unknown ones are permanent', () => {
    expect(classifyHttpFailure(new SecureNosqlError('TLS_PIN_MISMATCH', 'x'), true)).toEqual({ class: 'permanent', reason: 'tls_pin_mismatch' });
    expect(classifyHttpFailure(new Error('boom'), true)).toEqual({ class: 'permanent', reason: 'http_error' });
  });

  it('the status error keeps no body and no secret', () => {
    const error = status(401, { 'www-authenticate': 'Bearer error="invalid_token"', authorization: 'Bearer secret' });
    expect(JSON.stringify(error)).not.toContain('secret');
    expect(error.message).toBe('HTTP 401');
  });
});
