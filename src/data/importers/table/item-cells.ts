/**
 * The text cells of an items file: descriptions that may be JSON arrays of paragraphs, and
 * category cells that may be separated labels, hierarchical paths or JSON lists of either.
 */

/** A JSON array in a text cell (Amazon-style lists), else null. */
function jsonArray(v: string): unknown[] | null {
  if (!v.startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Description cells may be JSON arrays of paragraphs (a title like "[2]" stays as it is). */
export function plainText(v: string | null): string | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  const strings = jsonArray(s)?.filter((x): x is string => typeof x === 'string');
  const out = strings?.length ? strings.join(' ').trim() : s;
  return out === '' ? undefined : out;
}

/** Labels (strings) and ready-made paths (arrays) of one categories cell. */
export function categoryEntries(v: string, sep: string): (string | string[])[] {
  const s = v.trim();
  if (s === '') return [];
  const arr = jsonArray(s);
  if (arr) {
    const out: (string | string[])[] = [];
    for (const e of arr) {
      if (typeof e === 'string' || typeof e === 'number') out.push(String(e));
      else if (Array.isArray(e))
        out.push(e.filter((x) => typeof x === 'string' || typeof x === 'number').map(String));
    }
    return out;
  }
  return sep === '' ? [s] : s.split(sep);
}

/** The distinct non-empty paths of one cell; labels are split at `pathSep` when the dataset has paths. */
export function categoryPaths(entries: (string | string[])[], paths: boolean, pathSep: string): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const e of entries) {
    const raw = Array.isArray(e) ? e : paths ? e.split(pathSep) : [e];
    const path = raw.map((x) => x.trim()).filter((x) => x !== '');
    const key = path.join('\u0000');
    if (path.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(path);
  }
  return out;
}
