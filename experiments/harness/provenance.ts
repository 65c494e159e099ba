/** How a run was made: the machine and the commit it ran on (recorded in experiment.json). */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { kernels } from '../../src/kernels/select.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
  backend: string;
  threads: number;
  backendInfo: Record<string, string | number | boolean>;
}

export function machineInfo(): MachineInfo {
  const k = kernels();
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backend: k.name,
    threads: k.threads(),
    backendInfo: k.describe(),
  };
}

/**
 * The commit of the working tree, and whether it has uncommitted changes (null outside git).
 * The experiments' own outputs (the report and the results tree) do not count: every finished
 * run rewrites them, which would mark every later run as made from uncommitted code.
 */
export function gitState(cwd: string): { commit: string; dirty: boolean } | null {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', a, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = git(
      'status',
      '--porcelain',
      '--',
      '.',
      ':(exclude)docs/results.md',
      ':(exclude)experiments/results',
    );
    return { commit: git('rev-parse', 'HEAD'), dirty: status !== '' };
  } catch {
    return null;
  }
}
