import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalizePath, type SecureHttpClient } from '../../src/drivers/http/index.js';
import { AUDIENCE, createHttpFixture, rejectionOf, type HttpFixture } from './helpers.js';

describe('canonicalizePath', () => {
  it.each([
    ['/v1/docs/42', '/v1/docs/42'],
    ['/v1/docs/./42', '/v1/docs/42'],
    ['/v1/docs/../admin', '/v1/admin'],
    ['/v1/docs/a/../../admin', '/v1/admin'],
    ['/v1/docs/a/../../../../admin', '/admin'],
    ['/../../etc', '/etc'],
    ['/v1/docs/..', '/v1/'],
    ['/v1/docs/', '/v1/docs/'],
    ['/', '/'],
    ['/v1/docs/%7Euser', '/v1/docs/~user'],
    ['/v1/docs/%41%62c', '/v1/docs/Abc'],
    ['/v1/docs/a%3ab', '/v1/docs/a%3Ab'],
    ['/v1/docs/a b', '/v1/docs/a%20b'],
    ['/v1/docs/caf\u00e9', '/v1/docs/caf%C3%A9'],
    ['/v1/docs/cafe\u0301', '/v1/docs/caf%C3%A9'],
    ['/v1/docs/100%25', '/v1/docs/100%25'],
    ['/v1/docs/a:b@c', '/v1/docs/a:b@c'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalizePath(input).path).toBe(expected);
  });

  it('keeps the query out of the policy path but sends it', () => {
    expect(canonicalizePath('/v1/docs/../docs/1?x=%2e%2e&y=/z')).toEqual({ path: '/v1/docs/1', pathAndQuery: '/v1/docs/1?x=%2e%2e&y=/z' });
  });

  it.each([
    ['/v1/%2e%2e/admin', 'encoded_dot_segment'],
    ['/v1/docs/%2E/x', 'encoded_dot_segment'],
    ['/v1/docs/.%2e/admin', 'encoded_dot_segment'],
    ['/v1/docs/%252e%252e/admin', 'double_encoding'],
    ['/v1/docs/%252F', 'double_encoding'],
    ['/v1/docs/a%2Fb', 'encoded_slash'],
    ['/v1/docs/a%2fb', 'encoded_slash'],
    ['/v1/docs/a%5cb', 'encoded_slash'],
    ['/v1/docs/a\\..\\admin', 'backslash'],
    ['/v1/docs/%00', 'encoded_nul'],
    ['/v1/docs/%zz', 'malformed_percent_encoding'],
    ['/v1/docs/%4', 'malformed_percent_encoding'],
    ['/v1//admin', 'empty_segment'],
    ['//evil.example/v1', 'network_path'],
    ['v1/docs', 'not_origin_relative'],
    ['https://evil.example/v1', 'not_origin_relative'],
    ['/v1/docs/1#frag', 'fragment'],
    ['/v1/docs/\u0000', 'control_character'],
    ['/v1/docs/1?a b', 'query_character'],
  ])('refuses %s (%s) with POLICY_DENIED', (input, reason) => {
    let caught: unknown;
    try {
      canonicalizePath(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'POLICY_DENIED', details: { reason } });
  });
});

let fx: HttpFixture;
let client: SecureHttpClient;

beforeAll(async () => {
  fx = await createHttpFixture();
  const guard = fx.policyGuard([{ id: 'docs-read', resources: [`http:${fx.server.origin}/v1/docs/*`], actions: ['read'] }]);
  client = fx.client({}, guard);
  fx.server.docs.set('42', '{"n":42}');
  fx.server.docs.set('~user', '{"u":1}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(async () => {
  fx.tokens.invalidate(AUDIENCE, await fx.tokens.getToken(AUDIENCE));
  fx.server.resetCounters();
  fx.issuer.resetCounters();
});

describe('least-privilege policy on http:<origin><canonical path>', () => {
  it('an allowed read reaches the server with the canonical path', async () => {
    const res = await client.request({ method: 'GET', path: '/v1/docs/./42' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const decoded = await client.request({ method: 'GET', path: '/v1/docs/%7euser' });
    expect(decoded.statusCode).toBe(200);
    await decoded.body.dump();
    expect(fx.server.paths).toEqual(['/v1/docs/42', '/v1/docs/~user']);
  });

  it('a write is denied before anything is sent: no request, no token fetched', async () => {
    const error = await rejectionOf(client.request({ method: 'PUT', path: '/v1/docs/42', body: '{}' }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.server.requestCount()).toBe(0);
    expect(fx.issuer.requestCount('token')).toBe(0);
    const denied = fx.audit.ofKind('decision').filter((r) => r.decision === 'deny');
    expect(denied.at(-1)).toMatchObject({ system: 'http', operation: 'PUT', action: 'write', resource: `http:${fx.server.origin}/v1/docs/42` });
  });

  it('dot segments are resolved before matching, so /v1/docs/../admin is judged as /v1/admin and denied', async () => {
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs/../admin' }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.audit.ofKind('decision').at(-1)).toMatchObject({ decision: 'deny', resource: `http:${fx.server.origin}/v1/admin` });
    expect(fx.server.requestCount()).toBe(0);
  });

  it.each(['/v1/docs/%2e%2e/admin', '/v1/%2e%2e/admin', '/v1/docs/%252e%252e/admin', '/v1/docs/..%2Fadmin'])('%s is refused and never sent', async (path) => {
    const error = await rejectionOf(client.request({ method: 'GET', path }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.server.requestCount()).toBe(0);
    // the same through the raw dispatcher API
    const viaDispatcher = await rejectionOf(client.dispatcher.request({ origin: fx.server.origin, path, method: 'GET' }));
    expect(viaDispatcher).toMatchObject({ code: 'POLICY_DENIED' });
    expect(fx.server.requestCount()).toBe(0);
  });

  it('undici.request with a URL: the URL parser resolves %2e%2e first, policy sees the result and denies', async () => {
    const error = await rejectionOf(request(`${fx.server.origin}/v1/docs/%2e%2e/%2e%2e/admin`, { dispatcher: client.dispatcher }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.server.requestCount()).toBe(0);
  });

  it('an unknown method maps to no access and is denied', async () => {
    const error = await rejectionOf(client.request({ method: 'PROPFIND', path: '/v1/docs/42' }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.server.requestCount()).toBe(0);
  });

  it('a segment-wise pattern never matches a longer name (docs-evil)', async () => {
    const error = await rejectionOf(client.request({ method: 'GET', path: '/v1/docs-evil/42' }));
    expect(error.code).toBe('POLICY_DENIED');
    expect(fx.server.requestCount()).toBe(0);
  });
});
