import { describe, expect, it } from 'vitest';
import { SecureNosqlError } from '../../src/errors/index.js';
import { isSpiffeId, matchSpiffeId, parseSpiffeId, parseSpiffeIdPattern } from '../../src/identity/index.js';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://example.org/ns/orders/sa/orders-api', 'example.org', '/ns/orders/sa/orders-api'],
    ['spiffe://prod_1.example-2/a.b/C_d-E', 'prod_1.example-2', '/a.b/C_d-E'],
    ['spiffe://td/...', 'td', '/...'],
    [`spiffe://${'a'.repeat(255)}/x`, 'a'.repeat(255), '/x'],
  ])('accepts %s', (value, trustDomain, path) => {
    const id = parseSpiffeId(value);
    expect(id.trustDomain).toBe(trustDomain);
    expect(id.path).toBe(path);
    expect(id.toString()).toBe(value);
    expect(isSpiffeId(value)).toBe(true);
  });

  it.each([
    ['', /empty/],
    ['https://example.org/a', /start with "spiffe:\/\/"/],
    ['SPIFFE://example.org/a', /lower-case "spiffe"/],
    ['spiffe://Example.org/a', /lower case/],
    ['spiffe:///a', /trust domain is empty/],
    ['spiffe://example.org:8080/a', /port/],
    ['spiffe://user@example.org/a', /user info/],
    ['spiffe://example.org/a?x=1', /query/],
    ['spiffe://example.org/a#frag', /fragment/],
    ['spiffe://example.org/a%20b', /percent/],
    ['spiffe://example.org/', /trailing/],
    ['spiffe://example.org/a/', /trailing/],
    ['spiffe://example.org//a', /empty path segments/],
    ['spiffe://example.org/a/./b', /"\." and "\.\."/],
    ['spiffe://example.org/a/../b', /"\." and "\.\."/],
    ['spiffe://example.org/a b', /may only contain/],
    ['spiffe://exa*mple.org/a', /may only contain/],
    [`spiffe://${'a'.repeat(256)}/x`, /longer than 255/],
    [`spiffe://td/${'a'.repeat(2040)}`, /longer than 2048 bytes/],
  ])('rejects %s', (value, reason) => {
    expect(isSpiffeId(value)).toBe(false);
    try {
      parseSpiffeId(value, 'identity.serviceId');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SecureNosqlError);
      const e = error as SecureNosqlError;
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toMatch(/^identity\.serviceId /);
      expect(e.message).toMatch(reason);
      expect(e.message).toContain('spiffe://prod.example/ns/orders/sa/orders-api');
      expect(e.details?.['field']).toBe('identity.serviceId');
    }
  });

  it('rejects non-strings', () => {
    expect(() => parseSpiffeId(42)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('matchSpiffeId', () => {
  const id = 'spiffe://prod.example/ns/orders/sa/orders-api';
  it.each([
    ['spiffe://prod.example/ns/orders/sa/orders-api', id, true],
    ['spiffe://prod.example', id, true],
    ['spiffe://prod.example/ns/*/sa/orders-api', id, true],
    ['spiffe://prod.example/ns/orders/sa/*', id, true],
    ['spiffe://prod.example/ns/orders/**', id, true],
    ['spiffe://prod.example/ns/**', 'spiffe://prod.example/ns', false],
    ['spiffe://prod.example/ns/orders/sa/orders-api', 'spiffe://prod.example/ns/orders/sa/orders-api/extra', false],
    ['spiffe://prod.example/ns/orders/sa/orders-api', 'spiffe://prod.example/ns/orders/sa/Orders-api', false],
    ['spiffe://prod.example/orders/*', 'spiffe://prod.example/orders-evil', false],
    ['spiffe://prod.example/orders/*', 'spiffe://prod.example/orders-evil/x', false],
    ['spiffe://prod.example/orders/*', 'spiffe://prod.example/orders', false],
    ['spiffe://prod.example/orders/*', 'spiffe://prod.example/orders/a/b', false],
    ['spiffe://prod.example', 'spiffe://prod.example.evil/ns/x', false],
    ['spiffe://prod.example', 'spiffe://other.example/ns/orders/sa/orders-api', false],
    ['spiffe://prod.example', 'not a spiffe id', false],
    ['spiffe://prod.example', 'spiffe://prod.example/a/../b', false],
  ])('%s vs %s → %s', (pattern, candidate, expected) => {
    expect(matchSpiffeId(pattern, candidate)).toBe(expected);
  });

  it('rejects malformed patterns with CONFIG_INVALID', () => {
    for (const bad of ['spiffe://td/a*', 'spiffe://td/**/a', 'https://td', 'spiffe://td/a/']) {
      expect(() => parseSpiffeIdPattern(bad, 'policy.rules[0].principal')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});
