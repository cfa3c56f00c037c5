/** Compressed sparse rows in Float64: row i holds columns cols[rowStart[i] .. rowStart[i+1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  rowStart: Int32Array;
  colIndex: Int32Array;
  values: Float64Array;
}

/** Incrementally builds a CSR matrix row by row. */
export class CsrBuilder {
  private readonly starts: number[] = [0];
  private colIndex: Int32Array = new Int32Array(1024);
  private values: Float64Array = new Float64Array(1024);
  private nnz = 0;

  constructor(private readonly cols: number) {}

  addRow(cols: ArrayLike<number>, values: ArrayLike<number>): void {
    const need = this.nnz + cols.length;
    if (need > this.colIndex.length) {
      const size = Math.max(need, this.colIndex.length * 2);
      const ci = new Int32Array(size);
      ci.set(this.colIndex.subarray(0, this.nnz));
      const v = new Float64Array(size);
      v.set(this.values.subarray(0, this.nnz));
      this.colIndex = ci;
      this.values = v;
    }
    for (let k = 0; k < cols.length; k++) {
      this.colIndex[this.nnz] = cols[k];
      this.values[this.nnz] = values[k];
      this.nnz++;
    }
    this.starts.push(this.nnz);
  }

  build(): CsrMatrix {
    return {
      rows: this.starts.length - 1,
      cols: this.cols,
      rowStart: Int32Array.from(this.starts),
      colIndex: this.colIndex.slice(0, this.nnz),
      values: this.values.slice(0, this.nnz),
    };
  }
}
