/**
 * Category labels as a vocabulary and, per item, a set of label indices (multi-hot). Amazon
 * category paths contribute one label per level ("Beauty", "Beauty > Skin Care", ...), or only
 * the leaf with `leafOnly`; flat labels (MovieLens genres, Beauty's attribute ids) are used as
 * they are. The vocabulary is ordered by frequency (most frequent first), then by name.
 */
import type { ItemRecord } from './types.js';

export const PATH_SEPARATOR = ' > ';

export interface ItemCategories {
  /** Label names; index = category id used by models (0-based). */
  names: string[];
  /** Labels of internal item i are labels[offsets[i] .. offsets[i+1]); row 0 (padding) is empty. */
  offsets: Int32Array;
  labels: Int32Array;
}

/** The label names of one item, before indexing. */
export function itemLabels(rec: ItemRecord | undefined, hierarchical: boolean, leafOnly: boolean): string[] {
  const out = new Set<string>();
  for (const path of rec?.categories ?? []) {
    const clean = path.map((s) => s.trim()).filter((s) => s !== '');
    if (clean.length === 0) continue;
    if (!hierarchical || leafOnly) out.add(clean.join(PATH_SEPARATOR));
    else for (let l = 1; l <= clean.length; l++) out.add(clean.slice(0, l).join(PATH_SEPARATOR));
  }
  return [...out];
}

/** itemIds[i-1] is internal item i; records are looked up by original id. */
export function buildCategories(
  itemIds: readonly string[],
  records: ReadonlyMap<string, ItemRecord>,
  hierarchical: boolean,
  leafOnly: boolean,
): ItemCategories {
  const perItem = itemIds.map((id) => itemLabels(records.get(id), hierarchical, leafOnly));
  const freq = new Map<string, number>();
  for (const labels of perItem) for (const l of labels) freq.set(l, (freq.get(l) ?? 0) + 1);
  const names = [...freq.keys()].sort((a, b) => freq.get(b)! - freq.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(names.map((n, i) => [n, i]));
  const offsets = new Int32Array(itemIds.length + 2);
  const labels: number[] = [];
  perItem.forEach((ls, k) => {
    for (const l of ls.map((x) => index.get(x)!).sort((a, b) => a - b)) labels.push(l);
    offsets[k + 2] = labels.length; // item k+1's labels end here; row 0 stays empty
  });
  return { names, offsets, labels: Int32Array.from(labels) };
}
