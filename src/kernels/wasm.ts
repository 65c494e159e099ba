/**
 * Node loader of the "wasm" kernel backend: reads the committed wasm/kernels.wasm (or the
 * file named by CAMMSR_WASM_PATH) and instantiates it through wasm-core.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';
import { createWasmKernels, messageOf } from './wasm-core.js';

export { createWasmKernels, wasmSimdSupported } from './wasm-core.js';

/** The default location of the built module: <package root>/wasm/kernels.wasm. */
function defaultWasmPath(): string {
  // This file runs as dist/src/kernels/wasm.js: the package root is three levels up.
  return fileURLToPath(new URL('../../../wasm/kernels.wasm', import.meta.url));
}

/**
 * Loads wasm/kernels.wasm (or the file named by CAMMSR_WASM_PATH) synchronously. Throws an Error
 * that says why when the file is missing or the engine lacks WebAssembly SIMD.
 */
export function loadWasmKernels(): Kernels {
  const override = process.env.CAMMSR_WASM_PATH;
  const path = override !== undefined && override !== '' ? override : defaultWasmPath();
  if (!existsSync(path)) {
    throw new Error(
      `wasm kernels not found at ${path}` +
        (override ? ' (from CAMMSR_WASM_PATH)' : '; rebuild them with `node scripts/build-wasm.mjs`'),
    );
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the wasm kernels at ${path}: ${messageOf(err)}`, { cause: err });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return createWasmKernels(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    wasmPath: path,
    sha256,
  });
}
