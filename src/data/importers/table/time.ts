/** Timestamps: the units the option accepts, and their conversion to seconds in SQL. */

export const TIME_EXPECTED = {
  auto: 'a number (seconds, or milliseconds above 1e11) or an ISO 8601 date/time',
  s: 'a number of seconds',
  ms: 'a number of milliseconds',
  iso: 'an ISO 8601 date/time',
} as const;

export type TimeUnit = keyof typeof TIME_EXPECTED;

/**
 * Seconds since the epoch in two steps, so that the number cast happens once per row: `x` is
 * computed from the column into `tx`, then `t` from `tx` and the text `traw` (NULL: no parse).
 */
export function timeSql(text: string, typed: string, type: string, unit: TimeUnit): { x: string; t: string } {
  if (/^(TIMESTAMP|DATE)/.test(type)) return { x: `TRY(epoch(${typed}))`, t: 'tx' };
  const numeric = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL)/.test(type);
  const x =
    unit === 'iso' ? 'NULL::DOUBLE' : numeric ? `CAST(${typed} AS DOUBLE)` : `TRY_CAST(${text} AS DOUBLE)`;
  // TRY: TRY_CAST to TIMESTAMPTZ still throws on years past the timestamp range.
  const iso = 'TRY(epoch(TRY_CAST(traw AS TIMESTAMPTZ)))';
  const t = {
    s: 'CASE WHEN isfinite(tx) THEN tx END',
    ms: 'CASE WHEN isfinite(tx) THEN tx / 1000 END',
    iso,
    auto: `CASE WHEN isfinite(tx) THEN (CASE WHEN tx > 1e11 THEN tx / 1000 ELSE tx END) ELSE ${iso} END`,
  }[unit];
  return { x, t };
}
