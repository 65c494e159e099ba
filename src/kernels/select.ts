/**
 * Chooses the kernel backend at run time: the best available first (native, then wasm, then
 * js), unless `CAMMSR_BACKEND=native|wasm|js` or `useBackend()` names one. Asking for a backend
 * that cannot load is an error that says why, never a silent fallback.
 */
import { jsKernels } from './js.js';
import type { BackendName, Kernels } from './kernels.js';
import { loadNativeKernels } from './native.js';
import { loadWasmKernels } from './wasm.js';

export const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm', 'js'];

const loaded = new Map<BackendName, Kernels>();
const failures = new Map<BackendName, string>();
let current: Kernels | undefined;

/** Loads one backend (cached). Throws an Error that explains why it is unavailable. */
export function loadBackend(name: BackendName): Kernels {
  const hit = loaded.get(name);
  if (hit) return hit;
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown kernel backend "${name}": expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  let k: Kernels;
  try {
    k = name === 'js' ? jsKernels : name === 'native' ? loadNativeKernels() : loadWasmKernels();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    failures.set(name, why);
    throw new Error(`kernel backend "${name}" is unavailable: ${why}`, { cause: err });
  }
  const threads = process.env.CAMMSR_THREADS;
  if (threads !== undefined && threads !== '') {
    const n = Number(threads);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`CAMMSR_THREADS must be a positive integer, got "${threads}"`);
    k.setThreads(n);
  }
  loaded.set(name, k);
  return k;
}

/** Availability of every backend, with the reason for each one that cannot load. */
export function probeBackends(): { name: BackendName; available: boolean; reason?: string }[] {
  return BACKEND_NAMES.map((name) => {
    try {
      loadBackend(name);
      return { name, available: true };
    } catch {
      return { name, available: false, reason: failures.get(name) };
    }
  });
}

/** The backend the engine uses now; selected on first call. */
export function kernels(): Kernels {
  if (current) return current;
  const wanted = process.env.CAMMSR_BACKEND;
  if (wanted !== undefined && wanted !== '') {
    current = loadBackend(wanted as BackendName);
    return current;
  }
  for (const name of BACKEND_NAMES) {
    try {
      current = loadBackend(name);
      return current;
    } catch {
      // try the next one: availability is reported by `cammsr doctor`
    }
  }
  throw new Error('no kernel backend could be loaded'); // unreachable: js always loads
}

/** Switches the engine to another backend (tests and benchmarks compare backends this way). */
export function useBackend(name: BackendName): Kernels {
  current = loadBackend(name);
  return current;
}
