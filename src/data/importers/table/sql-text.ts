/** Values and names written into SQL text. */

/** A string literal. */
export const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** A quoted identifier (column names come from the user's files). */
export const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** The text of a SQL expression, cut to 60 characters for a skip example. */
export const clip = (sqlText: string): string =>
  `CASE WHEN length(${sqlText}) > 60 THEN left(${sqlText}, 57) || '...' ELSE ${sqlText} END`;
