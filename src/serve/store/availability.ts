/**
 * Which event-store failures mean "unavailable, try again" (503 with Retry-After) rather than a
 * bug (500): a database that cannot be reached, is shutting down, timed out, is locked by
 * another process, or has no space or write access. Clients and proxies retry a 503; a 500
 * tells them not to.
 */

/** SQLSTATE classes and codes of PostgreSQL that a retry can outlive. */
const PG_RETRYABLE = [/^08/, /^53/, /^57P0[1-3]$/, /^57014$/, /^40001$/, /^40P01$/];
/** Node's network errors on the way to the database. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
]);
/** SQLite result codes (better-sqlite3's `code`, extended codes included by prefix). */
const SQLITE_RETRYABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;
/** pg's own messages for a connection that failed or timed out. */
const PG_CLIENT =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error/;

/** A short reason when `e` means the store is unavailable; undefined for any other error. */
export function unavailableReason(e: unknown): string | undefined {
  const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK.has(code) || SQLITE_RETRYABLE.test(code)) return code;
    if (PG_RETRYABLE.some((r) => r.test(code))) return `SQLSTATE ${code}`;
  }
  if (typeof message === 'string' && PG_CLIENT.test(message))
    return PG_CLIENT.exec(message)![0].toLowerCase();
  return undefined;
}
