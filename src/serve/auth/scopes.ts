/**
 * What a caller may do, by scope. Every route declares the scope it needs (or `public`), and a
 * route that declares nothing is refused when the service is built: access fails closed.
 */
export const SCOPES = [
  'events:write',
  'users:read',
  'recommendations:read',
  'metrics:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * A route's access: a scope, or `public` (health, readiness, the OpenAPI document, the explorer
 * page, and item images, which the explorer's <img> tags load without headers).
 */
export type Access = Scope | 'public';

/** What each scope opens, for docs and errors. */
export const SCOPE_ROUTES: Record<Scope, string> = {
  'events:write': 'POST /v1/events',
  'users:read': "GET /v1/users (search), GET /v1/users/{user}/events (a user's history)",
  'recommendations:read': 'recommendations, similar items, the catalog (items, search), /v1/info',
  'metrics:read': 'GET /metrics',
  admin: 'POST /v1/admin/reload, POST /v1/items, PATCH /v1/items/{item}',
};

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}
