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
  return t / 1000;
}
