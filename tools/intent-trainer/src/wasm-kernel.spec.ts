import { kernelModuleBytes, type KernelExports } from './wasm-kernel';

/** Column-major sparse matrix and dense rows laid out in one shared memory, like SoftmaxProblem. */
function setup(classes: number) {
  const pages = 1;
  const memory = new WebAssembly.Memory({
    initial: pages,
    maximum: pages,
    shared: true,
  });
  const kernel = new WebAssembly.Instance(
    new WebAssembly.Module(kernelModuleBytes(pages)),
    {
      env: { memory },
    },
  ).exports as unknown as KernelExports;
  const columns = 4;
  const rows = 3;
  const buffer = memory.buffer;
  const colStart = new Int32Array(buffer, 0, columns + 1);
  colStart.set([0, 2, 3, 3, 5]); // column 2 is empty
  const rowIndex = new Int32Array(buffer, 32, 5);
  rowIndex.set([0, 2, 1, 0, 2]);
  const values = new Float64Array(buffer, 64, 5);
  values.set([0.5, 1.5, -2, 0.25, 3]);
  const perRowAt = 128 + columns * classes * 8;
  // Views (not copies) into the shared memory, filled in place.
  const perColumn = new Float64Array(buffer, 128, columns * classes);
  perColumn.forEach((_, i) => (perColumn[i] = Math.sin(i + 1)));
  const perRow = new Float64Array(buffer, perRowAt, rows * classes);
  perRow.forEach((_, i) => (perRow[i] = Math.cos(i)));
  const at = {
    colStart: 0,
    rowIndex: 32,
    values: 64,
    perColumn: 128,
    perRow: perRowAt,
  };
  return { kernel, columns, colStart, rowIndex, values, perColumn, perRow, at };
}

const bits = (a: Float64Array): string =>
  Buffer.from(a.slice().buffer).toString('hex');

describe.each([2, 5, 77])('wasm kernel with %i classes', (classes) => {
  it('forward adds value * column row to each entry row, exactly as the scalar loop', () => {
    const s = setup(classes);
    const expected = Float64Array.from(s.perRow);
    for (let j = 0; j < s.columns; j++) {
      for (let q = s.colStart[j]; q < s.colStart[j + 1]; q++) {
        for (let k = 0; k < classes; k++)
          expected[s.rowIndex[q] * classes + k] +=
            s.values[q] * s.perColumn[j * classes + k];
      }
    }
    s.kernel.forward(
      0,
      s.columns,
      s.at.colStart,
      s.at.rowIndex,
      s.at.values,
      s.at.perColumn,
      s.at.perRow,
      classes,
    );
    expect(bits(s.perRow)).toBe(bits(expected));
  });

  it('backward adds value * entry row to each column row, only for the given columns', () => {
    const s = setup(classes);
    const expected = Float64Array.from(s.perColumn);
    for (let j = 1; j < s.columns; j++) {
      for (let q = s.colStart[j]; q < s.colStart[j + 1]; q++) {
        for (let k = 0; k < classes; k++)
          expected[j * classes + k] +=
            s.values[q] * s.perRow[s.rowIndex[q] * classes + k];
      }
    }
    s.kernel.backward(
      1,
      s.columns,
      s.at.colStart,
      s.at.rowIndex,
      s.at.values,
      s.at.perRow,
      s.at.perColumn,
      classes,
    );
    expect(bits(s.perColumn)).toBe(bits(expected));
  });
});
