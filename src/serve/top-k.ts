/**
 * The k best columns of a score row, skipping some and NaN, ties to the lower id: over a whole
 * row (topK) or over a row that arrives a block of columns at a time (TopK.scan), so that a
 * catalog of a million items is ranked without a score per item held for the whole request.
 */
export interface Skip {
  has(i: number): boolean;
}

export class TopK {
  /** The best ids so far, best first, and their scores. */
  readonly ids: number[] = [];
  readonly scores: number[] = [];
  /** A later column must beat the k-th strictly (columns come in increasing id order). */
  private floor = -Infinity;

  constructor(
    readonly k: number,
    private readonly skip: Skip,
  ) {}

  /**
   * Columns first..first + count − 1, at scores[offset ..]. One comparison per column: `skip`
   * is asked only about a column that would enter the list (a handful per row).
   */
  scan(scores: Float32Array, offset: number, first: number, count: number): void {
    const { k, ids, scores: best } = this;
    if (k <= 0) return;
    for (let c = 0; c < count; c++) {
      const s = scores[offset + c];
      if (ids.length === k ? !(s > this.floor) : Number.isNaN(s)) continue;
      const i = first + c;
      if (this.skip.has(i)) continue;
      // A sorted buffer of the best k: k is small, so insertion beats a heap here.
      let j = ids.length < k ? ids.length : k - 1;
      while (j > 0 && s > best[j - 1]) {
        ids[j] = ids[j - 1];
        best[j] = best[j - 1];
        j--;
      }
      ids[j] = i;
      best[j] = s;
      if (ids.length === k) this.floor = best[k - 1];
    }
  }
}

/** The k best of `scores` (columns 1..n of the row at `offset`), skipping `skip` and NaN scores. */
export function topK(scores: Float32Array, offset: number, n: number, k: number, skip: Skip): number[] {
  const top = new TopK(k, skip);
  top.scan(scores, offset + 1, 1, n);
  return top.ids;
}
