// Builds the optional native kernel backend (native/ : an N-API addon over OpenBLAS) into
// native/build/Release/cammsr_native.node. Run by `npm install` (the package's install script)
// and by hand: `node scripts/build-native.mjs`.
//
// The backend is optional: when OpenBLAS or a C toolchain is missing, or the build fails, this
// prints why and exits 0 so that installing still works (cammsr then uses its wasm or js
// kernels). With CAMMSR_REQUIRE_NATIVE=1 those cases exit 1 instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nativeDir = path.join(root, 'native');
const addon = path.join(nativeDir, 'build', 'Release', 'cammsr_native.node');
const required = process.env.CAMMSR_REQUIRE_NATIVE === '1';
const HOW_TO =
  'to get it: apt-get install libopenblas-dev (plus a C compiler, make and python3), ' +
  'then `npm rebuild cammsr` or `node scripts/build-native.mjs`';

/** Runs a command without a shell; never throws (a missing program gives error ENOENT). */
function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', stdio: 'pipe', ...options });
}

function ok(result) {
  return !result.error && result.status === 0;
}

/** One clear line (after `details`, if any), then exit: 0 (the backend is optional) or 1 when it is required. */
function skip(reason, { details = '', hint = HOW_TO } = {}) {
  if (details) console.error(details.trimEnd());
  console.error(`cammsr: native backend skipped: ${reason}; ${hint}.`);
  process.exit(required ? 1 : 0);
}

function findProgram(candidates) {
  return candidates.find((cmd) => cmd && ok(run(cmd, ['--version'])));
}

// 1. Toolchain: a C compiler, plus make and python3, which node-gyp drives.
const cc = findProgram([process.env.CC, 'cc', 'gcc', 'clang']);
if (!cc) skip('no C compiler found (cc)');
if (!findProgram(['make'])) skip('make not found');
if (!findProgram([process.env.PYTHON, process.env.npm_config_python, 'python3', 'python'])) {
  skip('python3 not found (node-gyp needs it)');
}

// 2. OpenBLAS: compile and link a probe with the flags binding.gyp uses (pkg-config when it
//    knows OpenBLAS, else the default paths, e.g. /usr/include/x86_64-linux-gnu/cblas.h).
const pkg = ok(run('pkg-config', ['--exists', 'openblas']));
const words = (s) => s.split(/\s+/).filter(Boolean);
const cflags = pkg ? words(run('pkg-config', ['--cflags-only-I', 'openblas']).stdout) : [];
const libs = pkg ? words(run('pkg-config', ['--libs', 'openblas']).stdout) : ['-lopenblas'];
const probeDir = mkdtempSync(path.join(tmpdir(), 'cammsr-openblas-'));
const probeSrc = path.join(probeDir, 'probe.c');
writeFileSync(
  probeSrc,
  '#include <cblas.h>\nint main(void) { return openblas_get_config() == 0 && cblas_sdot(0, 0, 1, 0, 1) != 0; }\n',
);
const probe = run(cc, [...cflags, probeSrc, '-o', path.join(probeDir, 'probe'), ...libs]);
rmSync(probeDir, { recursive: true, force: true });
if (!ok(probe)) {
  // the probe's compiler message only matters to someone who insists on the native backend
  const details = required ? (probe.error?.message ?? probe.stderr) : '';
  skip('OpenBLAS not found (cblas.h and libopenblas are needed)', { details });
}

// 3. node-gyp: the one npm puts on PATH (or names in npm_config_node_gyp) during lifecycle
//    scripts; by hand, the one bundled with npm next to this node; else any node-gyp on PATH.
const prefix = path.dirname(path.dirname(process.execPath));
const gypScripts = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath &&
    path.join(path.dirname(path.dirname(process.env.npm_execpath)), 'node_modules/node-gyp/bin/node-gyp.js'),
  path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  path.join(path.dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'), // Windows layout
].filter((p) => p && existsSync(p));
let gyp;
if (gypScripts.length > 0) gyp = { cmd: process.execPath, args: [gypScripts[0]] };
else if (ok(run('node-gyp', ['--version']))) gyp = { cmd: 'node-gyp', args: [] };
else skip('node-gyp not found (it comes with npm)');

// Build against installed node headers (those of the node running this script, else Debian's in
// /usr/include/node) so that nothing is downloaded, unless npm's `nodedir` setting names a tree.
const args = [...gyp.args, 'rebuild'];
if (!process.env.npm_config_nodedir) {
  const nodedir = [prefix, '/usr'].find((dir) => existsSync(path.join(dir, 'include/node/node_api.h')));
  if (nodedir) args.push(`--nodedir=${nodedir}`);
}

// make compiles with $CC (default `cc`): hand it the compiler found above
const build = run(gyp.cmd, args, { cwd: nativeDir, env: { ...process.env, CC: cc } });
if (!ok(build)) {
  // keep the compiler's errors and node-gyp's verdict, drop its "gyp info" chatter
  const log = [build.stdout, build.stderr, build.error?.message]
    .filter(Boolean)
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('gyp info'))
    .join('\n');
  skip(`the build failed (${gyp.cmd} ${args.join(' ')} in ${nativeDir})`, {
    details: log,
    hint: 'fix the error above (a missing libopenblas-dev is the usual cause), then run `node scripts/build-native.mjs`',
  });
}
if (!existsSync(addon)) skip(`the build did not produce ${addon}`, { details: build.stdout + build.stderr });

// 4. Load it once in a fresh process: catches a library that links but cannot be found at run time.
const load = run(process.execPath, ['-e', `require(${JSON.stringify(addon)}).threads()`]);
if (!ok(load)) skip(`${addon} was built but does not load`, { details: load.stderr });

console.log(`cammsr: native backend built: ${path.relative(root, addon)}`);
