/** "How these numbers were made": the commands, dates, commits, versions and machines of the runs. */
import { machineInfo, type MachineInfo } from '../../harness/provenance.js';
import type { RunRecord } from '../../harness/results-tree.js';
import type { ReportContext } from '../context.js';
import { mdTable } from '../markdown.js';

export function howMade(ctx: ReportContext): string[] {
  const all = ctx.allRuns();
  const L = ['', '## How these numbers were made', ''];
  const invocations = tally(all.map((r) => r.experiment?.invocation ?? 'not recorded'));
  L.push(
    'Commands that produced the runs (each run also records its equivalent `cammsr train` command):',
    '',
  );
  if (invocations.size === 0)
    L.push('- none yet: `npm run experiments` runs the whole plan (incremental, resumable)');
  for (const [cmd, n] of invocations) L.push(`- \`${cmd}\`: ${n} run${n === 1 ? '' : 's'}`);
  const dates = all
    .map((r) => r.experiment?.finished)
    .filter((d): d is string => !!d)
    .sort();
  if (dates.length) L.push('', `Runs finished between ${dates[0]} and ${dates[dates.length - 1]}.`);
  const commits = tally(
    all.map((r) =>
      r.experiment?.git
        ? `${r.experiment.git.commit.slice(0, 12)}${r.experiment.git.dirty ? ' (with uncommitted changes)' : ''}`
        : 'not recorded',
    ),
  );
  if (commits.size) L.push('', `Code: ${[...commits].map(([c, n]) => `${c} (${n} runs)`).join(', ')}.`);
  const versions = tally(all.map((r) => `cammsr ${r.run?.cammsr ?? 'version not recorded'}`));
  if (versions.size) L.push('', `Version: ${[...versions].map(([c, n]) => `${c} (${n} runs)`).join(', ')}.`);
  L.push('', 'Machines:', '', machinesTable(all));
  return L;
}

/** One row per distinct machine setup, with its number of runs (this machine when none is recorded). */
function machinesTable(all: readonly RunRecord[]): string {
  const machines = new Map<string, { m: MachineInfo; n: number }>();
  for (const r of all) {
    const m = r.experiment?.machine;
    if (!m) continue;
    const key = JSON.stringify([m.cpu, m.cores, m.node, m.backend, m.threads]);
    machines.set(key, { m, n: (machines.get(key)?.n ?? 0) + 1 });
  }
  const machineRow = (m: MachineInfo, n: string) => [
    m.cpu,
    String(m.cores),
    `${m.memoryGb} GB`,
    `${m.node} ${m.platform}`,
    `${m.backend}, ${m.threads} threads${m.backendInfo.openblasConfig ? ` (${m.backendInfo.openblasConfig})` : ''}`,
    n,
  ];
  const headers = ['CPU', 'cores', 'memory', 'node', 'kernel backend', 'runs'];
  if (machines.size === 0)
    return mdTable(headers, [
      machineRow(machineInfo(), 'none yet (this is the machine that generated the page)'),
    ]);
  return mdTable(
    headers,
    [...machines.values()].map(({ m, n }) => machineRow(m, String(n))),
  );
}

function tally(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
