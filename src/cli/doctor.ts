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
}

export function doctor(): DoctorReport {
  const probes = probeBackends();
  const k = kernels();
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
    // loadBackend is cached: describing an available backend does not load it again.
    backends: probes.map((p) => (p.available ? { ...p, details: loadBackend(p.name).describe() } : p)),
  };
}
