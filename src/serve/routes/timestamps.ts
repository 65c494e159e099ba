/** Request timestamps: Unix seconds or ISO 8601, checked for the usual mistakes. */
import { HttpError } from '../http-errors.js';

/** Unix seconds from a number (seconds) or an ISO 8601 string; `where` names the field. */
export function toSeconds(v: number | string | undefined, where: string, now: number): number {
  if (v === undefined) return now;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0)
      throw new HttpError(400, `${where}: expected Unix seconds >= 0, got ${v}`);
    if (v > 1e11)
      throw new HttpError(
        400,
        `${where}: ${v} looks like milliseconds; send Unix seconds (or an ISO 8601 string)`,
      );
    return v;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new HttpError(400, `${where}: "${v}" is not an ISO 8601 date-time or Unix seconds`);
  // The same range as a number: from 1970 to the year 5138 (1e11 seconds).
  if (t < 0 || t / 1000 > 1e11)
    throw new HttpError(400, `${where}: "${v}" is outside 1970-01-01 to 5138-11-16 (Unix seconds 0 to 1e11)`);
  return t / 1000;
}
