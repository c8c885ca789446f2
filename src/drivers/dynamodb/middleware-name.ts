/** The name the guard middleware is registered under on `client.middlewareStack` (initialize step). */
export const GUARD_MIDDLEWARE_NAME = 'secureNosqlGuard';
