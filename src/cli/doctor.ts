/** `cammsr doctor`: which kernel backends load here, which one is selected, threads and versions. */
import os from 'node:os';
import { kernels, loadBackend, probeBackends } from '../kernels/select.js';
import { VERSION } from '../version.js';

export interface DoctorReport {
  cammsr: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  selected: string;
  threads: number;
  envBackend: string | null;
  /** Environment variables that change kernel selection or OpenBLAS's behaviour. */
  env: Record<string, string>;
  backends: {
    name: string;
    available: boolean;
    reason?: string;
    details?: Record<string, string | number | boolean>;
  }[];
  /** What would make this machine faster, each a sentence (empty when nothing is known). */
  advice: string[];
}

/** OpenBLAS cores whose SGEMM kernels use AVX-512. */
const AVX512_CORES = new Set(['skylakex', 'cooperlake', 'sapphirerapids']);

/**
 * Advice on the native backend's OpenBLAS: on a CPU with AVX-512, kernels of an older core
 * (Haswell's AVX2, say) run GEMMs at about half the vector width. On the project's machine
 * SkylakeX's kernels ran the training GEMMs 1.5-2x faster (docs/performance.md). Only a
 * DYNAMIC_ARCH build can switch kernels at run time, and nothing is said when the variable
 * already names an AVX-512 core (the build then lacks them).
 */
export function blasAdvice(
  details: Record<string, string | number | boolean> | undefined,
  env: Record<string, string | undefined>,
): string[] {
  const core = details?.openblasCore;
  const config = String(details?.openblasConfig ?? '');
  const pinned = env.OPENBLAS_CORETYPE;
  if (details?.avx512f !== true || typeof core !== 'string' || AVX512_CORES.has(core.toLowerCase()))
    return [];
  if (!config.includes('DYNAMIC_ARCH') || (pinned && AVX512_CORES.has(pinned.toLowerCase()))) return [];
  const situation = pinned
    ? `OpenBLAS runs its ${core} kernels on a CPU with AVX-512 because OPENBLAS_CORETYPE=${pinned} is set.`
    : `OpenBLAS chose its ${core} kernels for this CPU, which has AVX-512.`;
  return [
    `${situation} ` +
      'OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels; before relying on them, check ' +
      'with `npm run bench:gemm` and the test suite that this OpenBLAS build runs them correctly here.',
  ];
}

export function doctor(): DoctorReport {
  const probes = probeBackends();
  const k = kernels();
  // loadBackend is cached: describing an available backend does not load it again.
  const backends: DoctorReport['backends'] = probes.map((p) =>
    p.available ? { ...p, details: loadBackend(p.name).describe() } : p,
  );
  return {
    cammsr: VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    selected: k.name,
    threads: k.threads(),
    envBackend: process.env.CAMMSR_BACKEND || null,
    env: Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] =>
          /^(CAMMSR_|OPENBLAS_|OMP_NUM_THREADS$)/.test(e[0]) && e[1] !== undefined,
      ),
    ),
    backends,
    advice: blasAdvice(backends.find((b) => b.name === 'native')?.details, process.env),
  };
}
