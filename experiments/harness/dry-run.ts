/** --dry-run: every dataset and run the session would prepare or train, and the commands; nothing runs. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PrepareOptions } from '../../src/data/prepare.js';
import { prepareCommand, prepareOptions, trainCommand } from './commands.js';
import { readManifest } from './datasets.js';
import type { PlannedRun } from './expand-plan.js';
import { preparedName } from './plan-rules.js';
import type { Session } from './session.js';
import { datasetDir, trains, type Status } from './work-tree.js';

const WHAT: Partial<Record<Status, string>> = {
  done: 'finished, skipped',
  rerun: 'rerun: finished with fewer epochs (--max-epochs)',
};

export function printDryRun(
  s: Session,
  runs: readonly PlannedRun[],
  statuses: readonly Status[],
  json: boolean,
): void {
  const needed = new Map<string, PrepareOptions>();
  for (const r of runs)
    if (!r.unavailable)
      needed.set(
        preparedName(r.dataset, r.variant),
        prepareOptions(r.dataset, r.variant, datasetDir(s.paths, r.dataset, r.variant)),
      );
  console.log('\ndatasets:');
  for (const [name, o] of needed) {
    const cached = existsSync(join(o.out, 'manifest.json'));
    console.log(
      `  ${name}: ${cached ? `cached, checksum ${readManifest(o.out).checksum}` : prepareCommand(o)}`,
    );
  }
  console.log('\nruns:');
  runs.forEach((r, i) => {
    const st = statuses[i];
    const what = st === 'unavailable' ? r.unavailable : (WHAT[st] ?? st);
    console.log(
      `  [${what}] ${r.dataset.name} / ${r.variant.name} / seed ${r.seed}  (${r.groups.join(', ')})`,
    );
    if (trains(st)) console.log(`      ${trainCommand(s.paths, r, s.maxEpochs)}`);
  });
  const count = (st: Status) => statuses.filter((x) => x === st).length;
  console.log(
    `\nwould train ${count('new') + count('restart') + count('rerun')} new and resume ${count('resume')} runs; ${count('done')} finished, ${count('unavailable')} not available here`,
  );
  if (json)
    console.log(
      JSON.stringify({
        dryRun: true,
        runs: runs.map((r, i) => ({
          dataset: r.dataset.name,
          variant: r.variant.name,
          seed: r.seed,
          groups: r.groups,
          status: statuses[i],
          command: statuses[i] === 'unavailable' ? null : trainCommand(s.paths, r, s.maxEpochs),
        })),
      }),
    );
}
