/**
 * NumPy .npy files (format version 1.0), so that features and sequences can be exchanged
 * with Python tools: `np.load("text.npy")` reads what we write, and we read what NumPy writes
 * for the dtypes we use. Little-endian, C order only.
 */
import { readFileSync } from 'node:fs';
import { DataError } from './errors.js';

export type NpyArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

const DTYPES: { descr: string; ctor: new (buf: ArrayBuffer) => NpyArray; bytes: number }[] = [
  { descr: '<f4', ctor: Float32Array, bytes: 4 },
  { descr: '<f8', ctor: Float64Array, bytes: 8 },
  { descr: '<i4', ctor: Int32Array, bytes: 4 },
  { descr: '<i8', ctor: BigInt64Array, bytes: 8 },
  { descr: '|u1', ctor: Uint8Array, bytes: 1 },
];

function descrOf(a: NpyArray): string {
  if (a instanceof Float32Array) return '<f4';
  if (a instanceof Float64Array) return '<f8';
  if (a instanceof Int32Array) return '<i4';
  if (a instanceof BigInt64Array) return '<i8';
  return '|u1';
}

/** Encodes an array with the given shape (product must equal its length) as .npy bytes. */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Buffer {
  const n = shape.reduce((p, d) => p * d, 1);
  if (n !== data.length)
    throw new RangeError(`npy: shape [${shape.join(', ')}] does not match ${data.length} values`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + data.byteLength);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 10 + header.length);
  return out;
}

/** What a .npy header says: the element type, the shape, and where the data starts. */
export interface NpyHeader {
  ctor: new (buf: ArrayBuffer) => NpyArray;
  bytesPerElement: number;
  shape: number[];
  /** Elements (the product of the shape). */
  length: number;
  /** Byte offset of the data section. */
  dataStart: number;
}

/**
 * Parses the header at the start of .npy bytes (the whole file, or at least its first
 * `npyHeaderBytes` bytes). `source` names the file in error messages.
 */
export function parseNpyHeader(bytes: Uint8Array, source = 'npy data'): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new DataError(`${source}: not a .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else throw new DataError(`${source}: unsupported .npy format version ${major}`);
  if (buf.length < start + headerLen) throw new DataError(`${source}: the .npy header is cut short`);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined)
    throw new DataError(`${source}: malformed .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True')
    throw new DataError(`${source}: Fortran-ordered arrays are not supported (save with C order)`);
  const dtype = DTYPES.find((d) => d.descr === descr || (d.bytes === 1 && descr === '<u1'));
  if (!dtype) {
    throw new DataError(
      `${source}: dtype ${descr} is not supported (expected one of ${DTYPES.map((d) => d.descr).join(', ')})`,
    );
  }
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new DataError(`${source}: invalid shape (${shapeStr})`);
  const length = shape.reduce((p, d) => p * d, 1);
  return { ctor: dtype.ctor, bytesPerElement: dtype.bytes, shape, length, dataStart: start + headerLen };
}

/** Enough leading bytes for any header this module reads (format 1.0 headers are at most 64 KiB). */
export const npyHeaderBytes = 12 + 0xffff;

/** The data section's expected size against the bytes found; a mismatch names both. */
export function checkNpySize(h: NpyHeader, fileBytes: number, source: string): void {
  if (fileBytes - h.dataStart !== h.length * h.bytesPerElement) {
    throw new DataError(
      `${source}: expected ${h.length * h.bytesPerElement} data bytes for shape (${h.shape.join(', ')}), found ${fileBytes - h.dataStart}`,
    );
  }
}

/** Decodes .npy bytes. `source` names the file in error messages. */
export function decodeNpy(bytes: Uint8Array, source = 'npy data'): { data: NpyArray; shape: number[] } {
  const h = parseNpyHeader(bytes, source);
  checkNpySize(h, bytes.byteLength, source);
  // Copy into a fresh, aligned buffer (the data section need not be aligned in the file).
  const ab = new ArrayBuffer(h.length * h.bytesPerElement);
  new Uint8Array(ab).set(bytes.subarray(h.dataStart));
  return { data: new h.ctor(ab), shape: h.shape };
}

export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  return decodeNpy(readFileSync(path), path);
}

/** Decodes .npy bytes and checks the dtype (and rank, if given). */
export function decodeNpyAs<T extends NpyArray>(
  bytes: Uint8Array,
  source: string,
  ctor: new (...args: never[]) => T,
  rank?: number,
): { data: T; shape: number[] } {
  const r = decodeNpy(bytes, source);
  if (!(r.data instanceof ctor))
    throw new DataError(`${source}: expected dtype ${ctor.name}, found ${r.data.constructor.name}`);
  if (rank !== undefined && r.shape.length !== rank) {
    throw new DataError(`${source}: expected a ${rank}-D array, found shape (${r.shape.join(', ')})`);
  }
  return { data: r.data as T, shape: r.shape };
}

/** Reads a .npy file and checks its dtype (and rank, if given). */
export function readNpyAs<T extends NpyArray>(
  path: string,
  ctor: new (...args: never[]) => T,
  rank?: number,
): { data: T; shape: number[] } {
  return decodeNpyAs(readFileSync(path), path, ctor, rank);
}
