/**
 * A sparse gradient over rows of a table: the set of touched rows and one dense vector per
 * touched row. Duplicate rows are summed. Clearing costs O(touched rows), not O(table rows).
 */
export class RowGrad {
  readonly tableRows: number;
  readonly width: number;
  private slotOf: Int32Array;
  private rowList: Int32Array;
  private vals: Float32Array;
  private n = 0;

  constructor(tableRows: number, width: number) {
    this.tableRows = tableRows;
    this.width = width;
    this.slotOf = new Int32Array(tableRows).fill(-1);
    this.rowList = new Int32Array(16);
    this.vals = new Float32Array(16 * width);
  }

  /** Number of distinct touched rows. */
  get count(): number {
    return this.n;
  }

  /** Touched row ids, in first-touch order. */
  get rows(): Int32Array {
    return this.rowList.subarray(0, this.n);
  }

  /** Gradient vectors, one per entry of `rows`, each `width` long. */
  get values(): Float32Array {
    return this.vals.subarray(0, this.n * this.width);
  }

  /** Adds scale·src[srcOffset .. srcOffset+width) to the gradient of `row`. */
  add(row: number, src: Float32Array, srcOffset: number, scale = 1): void {
    if (!(row >= 0 && row < this.tableRows))
      throw new RangeError(`row ${row} outside table of ${this.tableRows} rows`);
    let slot = this.slotOf[row];
    if (slot < 0) {
      slot = this.n++;
      if (slot >= this.rowList.length) this.grow();
      this.slotOf[row] = slot;
      this.rowList[slot] = row;
      this.vals.fill(0, slot * this.width, (slot + 1) * this.width);
    }
    const w = this.width;
    const o = slot * w;
    if (scale === 1) for (let j = 0; j < w; j++) this.vals[o + j] += src[srcOffset + j];
    else for (let j = 0; j < w; j++) this.vals[o + j] += scale * src[srcOffset + j];
  }

  /** Adds every touched row into a dense (tableRows × width) gradient. */
  addTo(dense: Float32Array): void {
    const w = this.width;
    for (let s = 0; s < this.n; s++) {
      const o = this.rowList[s] * w;
      for (let j = 0; j < w; j++) dense[o + j] += this.vals[s * w + j];
    }
  }

  /** Multiplies every stored value by s (gradient clipping). */
  scale(s: number): void {
    const v = this.values;
    for (let i = 0; i < v.length; i++) v[i] *= s;
  }

  clear(): void {
    for (let s = 0; s < this.n; s++) this.slotOf[this.rowList[s]] = -1;
    this.n = 0;
  }

  private grow(): void {
    const rows = new Int32Array(this.rowList.length * 2);
    rows.set(this.rowList);
    this.rowList = rows;
    const vals = new Float32Array(rows.length * this.width);
    vals.set(this.vals);
    this.vals = vals;
  }
}
