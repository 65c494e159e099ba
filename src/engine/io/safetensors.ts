/**
 * Parameters on disk in the safetensors format (https://github.com/huggingface/safetensors),
 * readable by PyTorch, NumPy and Rust tooling:
 *   [u64 little-endian header length N][N bytes of JSON header, space-padded][raw data]
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end)} relative to
 * the data section, plus "__metadata__" (string -> string). We write F32 only and add
 * metadata {format: "cammsr", format_version: "1"} so that loading can refuse files that
 * are not ours or come from a newer format version. Writes are atomic (temp file + rename).
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { endianness } from 'node:os';
import { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import { runSteps } from '../steps.js';

export const PARAMS_FORMAT = 'cammsr';
export const PARAMS_FORMAT_VERSION = 1;

export interface NamedArray {
  data: Float32Array;
  shape: readonly number[];
}

/** Serialises named float32 arrays to safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string> = {},
): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {
    __metadata__: { ...metadata, format: PARAMS_FORMAT, format_version: String(PARAMS_FORMAT_VERSION) },
  };
  let offset = 0;
  for (const name of names) {
    const { data, shape } = tensors[name];
    const n = shape.reduce((p, d) => p * d, 1);
    if (n !== data.length)
      throw new RangeError(
        `tensor "${name}": shape [${shape.join(', ')}] does not match ${data.length} values`,
      );
    header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

/** Where each tensor's float32 values are in safetensors bytes (`bytes` from `begin`, `count` values). */
export interface SafetensorsLayout {
  tensors: Map<string, { shape: number[]; begin: number; count: number }>;
  metadata: Record<string, string>;
}

/** Parses and checks the header of safetensors bytes. `source` names the file in error messages. */
export function safetensorsLayout(bytes: Uint8Array, source = 'safetensors data'): SafetensorsLayout {
  return layoutOf(bytes, bytes.length, source);
}

/** The length of the JSON header, from a file's first 8 bytes, checked against the file's size. */
function headerLength(head: Uint8Array, size: number, source: string): number {
  if (size < 8) throw new Error(`${source}: file is ${size} bytes, too short for a safetensors header`);
  const hlen = Number(Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0));
  if (hlen > size - 8) throw new Error(`${source}: header length ${hlen} exceeds the file size ${size}`);
  return hlen;
}

/** safetensorsLayout of a file of `size` bytes from its first bytes (`head`: at least the header). */
function layoutOf(head: Uint8Array, size: number, source: string): SafetensorsLayout {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  const hlen = headerLength(head, size, source);
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = size - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: SafetensorsLayout['tensors'] = new Map();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') fail(`tensor "${name}" has dtype ${String(e.dtype)}; only F32 is supported`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o))) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    const shape = e.shape as number[];
    const n = shape.reduce((p, d) => p * d, 1);
    if (begin < 0 || end > dataLen || end - begin !== n * 4) {
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}) do not hold ${n} float32 values within ${dataLen} data bytes`,
      );
    }
    tensors.set(name, { shape, begin: dataStart + begin, count: n });
  }
  return { tensors, metadata };
}

/** Copies a tensor's values out of the bytes into `into` (byte-wise: the bytes may be unaligned). */
function copyTensor(bytes: Uint8Array, t: { begin: number; count: number }, into: Float32Array): void {
  new Uint8Array(into.buffer, into.byteOffset, t.count * 4).set(
    bytes.subarray(t.begin, t.begin + t.count * 4),
  );
}

/** Parses safetensors bytes into fresh arrays. `source` names the file in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  return runSteps(decodeSafetensorsSteps(bytes, source));
}

/** Whether float32 values can be read in place: the platform stores them as safetensors does. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * decodeSafetensors in bounded steps (COPY_STEP_FLOATS values each), for a loading service.
 * `views`: a tensor whose values lie 4-byte aligned is a view of `bytes` instead of a copy (no
 * time, no memory; the caller must not reuse or write the bytes); the others are copied.
 */
export function* decodeSafetensorsSteps(
  bytes: Uint8Array,
  source = 'safetensors data',
  opts: { views?: boolean } = {},
): Generator<void, DecodedSafetensors> {
  const { tensors: layout, metadata } = safetensorsLayout(bytes, source);
  const tensors = new Map<string, NamedArray>();
  for (const [name, t] of layout) {
    const at = bytes.byteOffset + t.begin;
    let data: Float32Array;
    if (opts.views && LITTLE_ENDIAN && at % 4 === 0) data = new Float32Array(bytes.buffer, at, t.count);
    else {
      data = new Float32Array(t.count);
      yield* copyTensorSteps(bytes, t, data);
    }
    tensors.set(name, { data, shape: t.shape });
  }
  return { tensors, metadata };
}

/** copyTensor, COPY_STEP_FLOATS values per step. */
function* copyTensorSteps(
  bytes: Uint8Array,
  t: { begin: number; count: number },
  into: Float32Array,
): Generator<void, void> {
  for (let at = 0; at < t.count; at += COPY_STEP_FLOATS) {
    const n = Math.min(COPY_STEP_FLOATS, t.count - at);
    copyTensor(bytes, { begin: t.begin + at * 4, count: n }, into.subarray(at, at + n));
    if (at + n < t.count) yield;
  }
}

/** Writes bytes to `path` atomically: a temp file beside it, fsync, then rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A module's parameters (by their dotted names) as safetensors bytes. */
export function encodeParameters(module: Module, metadata: Record<string, string> = {}): Buffer {
  const tensors: Record<string, NamedArray> = {};
  for (const [name, t] of module.namedParameters()) tensors[name] = { data: t.data, shape: t.shape };
  return encodeSafetensors(tensors, metadata);
}

/** Saves a module's parameters (by their dotted names) to a safetensors file. */
export function saveParameters(module: Module, path: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeParameters(module, metadata));
}

/**
 * Loads parameters saved by saveParameters into a module of the same architecture. Refuses
 * (without changing any weight) files of another format or newer version, and any missing,
 * unexpected or differently shaped tensor. Returns the file's metadata.
 */
export function loadParameters(module: Module, path: string): Record<string, string> {
  return loadParameterFile(module, path);
}

/** Bytes read per readSync of loadParameterFile (4 MB). */
const READ_STEP_BYTES = 1 << 22;

/**
 * loadParameters reading each tensor's bytes from the file straight into its parameter: a
 * million-item table (250 MB) is neither held twice nor allocated and freed once more per load
 * (which, on a worker thread, stalls the serving thread's event loop: docs/performance.md).
 * `onBytes` is handed every byte of the file once, in order (a caller's checksum); the header is
 * checked before any parameter changes (tensors that overlap are refused, as the format says),
 * but a checksum that fails once all is read leaves them changed: the caller drops the module.
 */
export function loadParameterFile(
  module: Module,
  path: string,
  onBytes: (bytes: Uint8Array) => void = () => {},
): Record<string, string> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (into: Uint8Array, at: number): void => {
      for (let done = 0; done < into.length;) {
        const n = readSync(fd, into, done, into.length - done, at + done);
        if (n === 0) throw new Error(`${path} changed while it was read`);
        done += n;
      }
      onBytes(into);
    };
    const first = new Uint8Array(Math.min(8, size));
    read(first, 0);
    const head = new Uint8Array(8 + headerLength(first, size, path));
    head.set(first);
    read(head.subarray(8), 8);
    const { tensors, metadata } = layoutOf(head, size, path);
    checkParameters(module, tensors, metadata, path);
    const inFileOrder = [...tensors].filter(([, t]) => t.count > 0).sort((a, b) => a[1].begin - b[1].begin);
    const params = new Map(module.namedParameters());
    let at = head.length;
    const skip = (to: number) => {
      const scratch = new Uint8Array(Math.min(READ_STEP_BYTES, to - at));
      for (; at < to; at += scratch.length) read(scratch.subarray(0, Math.min(scratch.length, to - at)), at);
    };
    for (const [name, t] of inFileOrder) {
      skip(t.begin);
      const data = params.get(name)!.data;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, t.count * 4);
      for (let b = 0; b < bytes.length; b += READ_STEP_BYTES)
        read(bytes.subarray(b, Math.min(bytes.length, b + READ_STEP_BYTES)), t.begin + b);
      at = t.begin + bytes.length;
    }
    skip(size);
    return metadata;
  } finally {
    closeSync(fd);
  }
}

/** loadParameters over bytes already read (`path` names them in errors). */
export function loadParameterBytes(module: Module, bytes: Uint8Array, path: string): Record<string, string> {
  return runSteps(loadParameterBytesSteps(module, bytes, path));
}

/** Values copied per step of loadParameterBytesSteps (1 MB): a few milliseconds each where first touching fresh pages is slow. */
const COPY_STEP_FLOATS = 1 << 18;

/**
 * loadParameterBytes in bounded steps, COPY_STEP_FLOATS values each (a service loading a bundle
 * yields between them; a million-item table is 64M values). Everything is checked before the
 * first value is copied, so a mismatched file changes no parameter.
 */
export function* loadParameterBytesSteps(
  module: Module,
  bytes: Uint8Array,
  path: string,
): Generator<void, Record<string, string>> {
  // Straight from the bytes into the parameters: a large item table is never held a third time.
  const { tensors, metadata } = safetensorsLayout(bytes, path);
  checkParameters(module, tensors, metadata, path);
  for (const [name, t] of module.namedParameters()) yield* copyTensorSteps(bytes, tensors.get(name)!, t.data);
  return metadata;
}

/** Refuses a file of another format, a newer version, or tensors that are not the module's parameters. */
function checkParameters(
  module: Module,
  tensors: SafetensorsLayout['tensors'],
  metadata: Record<string, string>,
  path: string,
): void {
  if (metadata.format !== PARAMS_FORMAT) {
    throw new Error(
      `${path}: not a cammsr parameter file (metadata.format = ${JSON.stringify(metadata.format)})`,
    );
  }
  const version = Number(metadata.format_version);
  if (!(version >= 1 && version <= PARAMS_FORMAT_VERSION)) {
    throw new Error(
      `${path}: parameter format version ${metadata.format_version} is not supported (this cammsr reads 1..${PARAMS_FORMAT_VERSION})`,
    );
  }
  const params = module.namedParameters();
  const problems: string[] = [];
  for (const [name, t] of params) {
    const s = tensors.get(name);
    if (!s) problems.push(`missing "${name}"`);
    else if (s.shape.length !== t.rank || s.shape.some((d, i) => d !== t.shape[i])) {
      problems.push(`"${name}" has shape [${s.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`);
    }
  }
  const known = new Set(params.map(([n]) => n));
  for (const name of tensors.keys()) if (!known.has(name)) problems.push(`unexpected "${name}"`);
  if (problems.length)
    throw new Error(`${path}: parameters do not match the model: ${problems.slice(0, 10).join('; ')}`);
  // The format's rule, which reading a file straight into the parameters relies on.
  const inFileOrder = [...tensors].filter(([, t]) => t.count > 0).sort((a, b) => a[1].begin - b[1].begin);
  inFileOrder.forEach(([name, t], k) => {
    const before = inFileOrder[k - 1]?.[1];
    if (before && t.begin < before.begin + before.count * 4)
      throw new Error(`${path}: tensor "${name}" overlaps the one before it in the file`);
  });
}

/** Reads a safetensors file into tensors (no gradient), keyed by name. */
export function loadSafetensors(path: string): Map<string, Tensor> {
  const { tensors } = decodeSafetensors(readFileSync(path), path);
  return new Map([...tensors].map(([n, a]) => [n, new Tensor(a.data, a.shape)]));
}
