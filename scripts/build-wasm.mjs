#!/usr/bin/env node
// Builds the WebAssembly SIMD kernels: wasm/assembly/kernels.ts → wasm/kernels.wasm.
//
//   node scripts/build-wasm.mjs           rebuild wasm/kernels.wasm
//   node scripts/build-wasm.mjs --check   rebuild into a temporary directory and exit 1 if the
//                                         bytes differ from the committed wasm/kernels.wasm
//
// The built file is committed so that users need no toolchain. The build is reproducible:
// the flags below embed no debug names, source map or file paths, so the same AssemblyScript
// version always produces the same bytes.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = 'wasm/assembly/kernels.ts';
const committed = join(root, 'wasm', 'kernels.wasm');

// -O3 with no shrinking: speed over size. SIMD only: relaxed SIMD is behind a flag in Node 20.
// --runtime stub: the kernels never allocate. --use abort= drops the `env.abort` import, so the
// module has no imports at all.
const FLAGS = [
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--converge',
  '--noAssert',
  '--runtime',
  'stub',
  '--enable',
  'simd',
  '--use',
  'abort=',
];

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The installed AssemblyScript version: another version may emit different bytes. */
function ascVersion() {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules/assemblyscript/package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

async function build(outFile) {
  let asc;
  try {
    asc = (await import('assemblyscript/asc')).default;
  } catch (err) {
    throw new Error(
      `cannot load the AssemblyScript compiler (npm install the devDependencies first): ${err.message}`,
    );
  }
  const log = [];
  const stream = { write: (s) => log.push(String(s)) };
  // --baseDir makes the build independent of the working directory; paths are not embedded.
  const { error } = await asc.main([entry, '--baseDir', root, '--outFile', outFile, ...FLAGS], {
    stdout: stream,
    stderr: stream,
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${log.join('')}`);
  return readFileSync(outFile);
}

async function main() {
  const check = process.argv.includes('--check');
  const version = ascVersion();
  if (!check) {
    const bytes = await build(committed);
    console.log(
      `wrote wasm/kernels.wasm: ${bytes.length} bytes, sha256 ${sha256(bytes)} (assemblyscript ${version})`,
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cammsr-wasm-'));
  try {
    const fresh = await build(join(dir, 'kernels.wasm'));
    if (!existsSync(committed)) {
      console.error('wasm/kernels.wasm is missing: run `node scripts/build-wasm.mjs` and commit it');
      process.exitCode = 1;
      return;
    }
    const old = readFileSync(committed);
    if (Buffer.compare(old, fresh) !== 0) {
      console.error(
        `wasm/kernels.wasm is out of date: the committed file (${old.length} bytes, sha256 ${sha256(old)}) ` +
          `differs from a fresh build of ${entry} (${fresh.length} bytes, sha256 ${sha256(fresh)}) ` +
          `with assemblyscript ${version}. Run \`node scripts/build-wasm.mjs\` and commit the result.`,
      );
      process.exitCode = 1;
      return;
    }
    console.log(`wasm/kernels.wasm is up to date (${old.length} bytes, sha256 ${sha256(old)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
