/**
 * A tiny WebAssembly module, assembled here byte by byte, with the two sparse x dense loops that
 * dominate training:
 *
 *   forward(colBegin, colEnd, colStart, rowIndex, values, src, dst, classes):
 *     for j in [colBegin, colEnd), q in column j:  dst[rowIndex[q]] += values[q] * src[j]
 *   backward(...same...):
 *     for j in [colBegin, colEnd), q in column j:  dst[j] += values[q] * src[rowIndex[q]]
 *
 * where src[r] / dst[r] are rows of `classes` float64 values. Pointers are byte offsets into the
 * (shared) memory the module imports. Pairs of classes use f64x2 SIMD; an odd last class is done
 * with scalar f64. Lane-wise IEEE multiply and add give exactly the bits of the scalar loop
 * `dst[k] += v * src[k]`, so the speed-up does not change any result.
 */

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;

const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  f64Load: 0x2b,
  f64Store: 0x39,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Shl: 0x74,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  void: 0x40,
  simd: 0xfd,
} as const;
const simd = {
  v128Load: 0x00,
  v128Store: 0x0b,
  f64x2Splat: 0x14,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const name = (s: string): number[] => [
  ...uleb(s.length),
  ...Buffer.from(s, 'utf8'),
];
const section = (id: number, body: number[]): number[] => [
  id,
  ...uleb(body.length),
  ...body,
];
const vector = (items: number[][]): number[] => [
  ...uleb(items.length),
  ...items.flat(),
];

// Parameters 0..7, then locals.
const P = {
  colBegin: 0,
  colEnd: 1,
  colStart: 2,
  rowIndex: 3,
  values: 4,
  src: 5,
  dst: 6,
  classes: 7,
};
const L = {
  j: 8,
  q: 9,
  qEnd: 10,
  k: 11,
  srcRow: 12,
  dstRow: 13,
  rowBytes: 14,
  pairBytes: 15,
  v: 16,
  vv: 17,
  row: 18,
};
const LOCALS = [
  [8, I32],
  [1, F64],
  [1, V128],
  [1, I32],
];

const get = (i: number): number[] => [op.localGet, ...uleb(i)];
const set = (i: number): number[] => [op.localSet, ...uleb(i)];
const i32 = (n: number): number[] => [op.i32Const, ...sleb(n)];
const memarg = (align: number): number[] => [...uleb(align), ...uleb(0)];
const simdOp = (code: number): number[] => [op.simd, ...uleb(code)];

/** Body of forward (`rowOfSrcIsColumn` = true) or backward (false). */
function loopBody(rowOfSrcIsColumn: boolean): number[] {
  const rowAddress = (base: number, index: number): number[] => [
    ...get(base),
    ...get(index),
    ...get(L.rowBytes),
    op.i32Mul,
    op.i32Add,
  ];
  const srcRow = rowAddress(P.src, rowOfSrcIsColumn ? L.j : L.row);
  const dstRow = rowAddress(P.dst, rowOfSrcIsColumn ? L.row : L.j);
  // One instruction per line would hide the structure: keep the assembly listing as written.
  // prettier-ignore
  return [
    // rowBytes = classes * 8; pairBytes = (classes & ~1) * 8
    ...get(P.classes), ...i32(3), op.i32Shl, ...set(L.rowBytes),
    ...get(P.classes), ...i32(-2), op.i32And, ...i32(3), op.i32Shl, ...set(L.pairBytes),
    ...get(P.colBegin), ...set(L.j),
    op.block, op.void,
    op.loop, op.void,
    ...get(L.j), ...get(P.colEnd), op.i32GeU, op.brIf, ...uleb(1),
    // q = colStart[j], qEnd = colStart[j + 1]
    ...get(P.colStart), ...get(L.j), ...i32(2), op.i32Shl, op.i32Add, op.i32Load, ...memarg(2), ...set(L.q),
    ...get(P.colStart), ...get(L.j), ...i32(2), op.i32Shl, op.i32Add, ...i32(4), op.i32Add, op.i32Load, ...memarg(2), ...set(L.qEnd),
    op.block, op.void,
    op.loop, op.void,
    ...get(L.q), ...get(L.qEnd), op.i32GeU, op.brIf, ...uleb(1),
    // row = rowIndex[q]; v = values[q]; vv = splat(v)
    ...get(P.rowIndex), ...get(L.q), ...i32(2), op.i32Shl, op.i32Add, op.i32Load, ...memarg(2), ...set(L.row),
    ...get(P.values), ...get(L.q), ...i32(3), op.i32Shl, op.i32Add, op.f64Load, ...memarg(3), ...set(L.v),
    ...get(L.v), ...simdOp(simd.f64x2Splat), ...set(L.vv),
    ...srcRow, ...set(L.srcRow),
    ...dstRow, ...set(L.dstRow),
    ...i32(0), ...set(L.k),
    op.block, op.void,
    op.loop, op.void,
    ...get(L.k), ...get(L.pairBytes), op.i32GeU, op.brIf, ...uleb(1),
    // dst[k..k+1] = dst[k..k+1] + vv * src[k..k+1]
    ...get(L.dstRow), ...get(L.k), op.i32Add,
    ...get(L.dstRow), ...get(L.k), op.i32Add, ...simdOp(simd.v128Load), ...memarg(3),
    ...get(L.vv),
    ...get(L.srcRow), ...get(L.k), op.i32Add, ...simdOp(simd.v128Load), ...memarg(3),
    ...simdOp(simd.f64x2Mul),
    ...simdOp(simd.f64x2Add),
    ...simdOp(simd.v128Store), ...memarg(3),
    ...get(L.k), ...i32(16), op.i32Add, ...set(L.k),
    op.br, ...uleb(0),
    op.end,
    op.end,
    // Odd class count: the last class in scalar f64.
    ...get(P.classes), ...i32(1), op.i32And,
    op.if, op.void,
    ...get(L.dstRow), ...get(L.pairBytes), op.i32Add,
    ...get(L.dstRow), ...get(L.pairBytes), op.i32Add, op.f64Load, ...memarg(3),
    ...get(L.v),
    ...get(L.srcRow), ...get(L.pairBytes), op.i32Add, op.f64Load, ...memarg(3),
    op.f64Mul,
    op.f64Add,
    op.f64Store, ...memarg(3),
    op.end,
    ...get(L.q), ...i32(1), op.i32Add, ...set(L.q),
    op.br, ...uleb(0),
    op.end,
    op.end,
    ...get(L.j), ...i32(1), op.i32Add, ...set(L.j),
    op.br, ...uleb(0),
    op.end,
    op.end,
    op.end,
  ];
}

function functionCode(rowOfSrcIsColumn: boolean): number[] {
  const locals = vector(LOCALS.map(([count, type]) => [...uleb(count), type]));
  const body = [...locals, ...loopBody(rowOfSrcIsColumn)];
  return [...uleb(body.length), ...body];
}

// prettier-ignore
const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** The module bytes; `pages` is the size (64 KiB pages) of the shared memory it imports. */
export function kernelModuleBytes(pages: number): Uint8Array<ArrayBuffer> {
  const params = Array<number>(8).fill(I32);
  const functionType = [0x60, ...vector(params.map((p) => [p])), ...vector([])];
  // env.memory: kind 0x02 (memory), limits flag 0x03 (shared, with maximum), min = max = pages.
  const memoryImport = [
    ...name('env'),
    ...name('memory'),
    0x02,
    0x03,
    ...uleb(pages),
    ...uleb(pages),
  ];
  const exports = [
    [...name('forward'), 0x00, 0],
    [...name('backward'), 0x00, 1],
  ];
  return Uint8Array.from([
    ...MAGIC_AND_VERSION,
    ...section(1, vector([functionType])),
    ...section(2, vector([memoryImport])),
    ...section(3, vector([[0], [0]])),
    ...section(7, vector(exports)),
    ...section(10, vector([functionCode(true), functionCode(false)])),
  ]);
}

type SparseLoop = (
  colBegin: number,
  colEnd: number,
  colStart: number,
  rowIndex: number,
  values: number,
  src: number,
  dst: number,
  classes: number,
) => void;

export interface KernelExports {
  forward: SparseLoop;
  backward: SparseLoop;
}
