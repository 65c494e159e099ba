#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * The `cammsr` command: a thin shell over the library. Every command that prints results
 * prints a readable table and, with --json, one JSON object as its last line.
 */
import { Command } from 'commander';
import { doctor } from './doctor.js';
import { registerDataCommands } from './data-commands.js';
import { registerDownloadCommand } from './download-command.js';
import { registerModelCommands } from './model-commands.js';
import { integer, positiveNumber } from './options.js';
import { registerReportCommands } from './report-commands.js';
import { registerServeCommands } from './serve-commands.js';
import { formatTable } from '../report/table.js';
import { runToy, type ToyOptions } from '../train/toy.js';
import { VERSION } from '../version.js';

function doctorCommand(opts: { json?: boolean }): void {
  const r = doctor();
  console.log(`cammsr ${r.cammsr}, node ${r.node}, ${r.platform}, ${r.cpus} CPUs (${r.cpuModel})`);
  console.log(`selected backend: ${r.selected} (${r.threads} thread${r.threads === 1 ? '' : 's'})`);
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  if (env.length) console.log(`environment: ${env.join(' ')}`);
  console.log(
    formatTable(
      ['backend', 'available', 'note'],
      r.backends.map((b) => [b.name, b.available ? 'yes' : 'no', b.reason ?? '']),
    ),
  );
  for (const b of r.backends) {
    if (!b.details) continue;
    console.log(`\n${b.name}:`);
    const width = Math.max(...Object.keys(b.details).map((key) => key.length));
    for (const [key, value] of Object.entries(b.details)) console.log(`  ${key.padEnd(width)} ${value}`);
  }
  for (const line of r.advice) console.log(`\nadvice: ${line}`);
  if (opts.json) console.log(JSON.stringify(r));
}

type ToyFlags = Omit<ToyOptions, 'onEpoch'> & { json?: boolean };

function toyCommand(opts: ToyFlags): void {
  const result = runToy({
    users: opts.users,
    items: opts.items,
    length: opts.length,
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    dim: opts.dim,
    lr: opts.lr,
    seed: opts.seed,
    onEpoch: (e) => {
      if (!opts.json)
        process.stderr.write(
          `epoch ${e.epoch}/${opts.epochs}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(2)} s)\n`,
        );
    },
  });
  console.log(
    formatTable(
      ['epoch', 'loss', 'seconds'],
      result.epochs.map((e) => [e.epoch, e.loss, e.seconds]),
    ),
  );
  console.log(
    `held-out next item in top 10: ${(100 * result.hitRate10).toFixed(1)}% of users (${result.parameters} parameters)`,
  );
  if (opts.json) console.log(JSON.stringify(result));
}

const program = new Command();
program
  .name('cammsr')
  .description('Multimodal sequential recommendation (CAMMSR) for TypeScript')
  .version(VERSION);

program
  .command('doctor')
  .description('report the kernel backends that load here, the selected one, its threads and versions')
  .option('--json', 'print one JSON object as the last line')
  .action(doctorCommand);

program
  .command('toy')
  .description('train a small SASRec on a synthetic next-item task (an end-to-end check of the engine)')
  .option('--users <n>', 'number of synthetic users', integer('--users', 1), 512)
  .option('--items <n>', 'number of items', integer('--items', 1), 200)
  .option('--length <n>', 'sequence length', integer('--length', 1), 20)
  .option('--epochs <n>', 'training epochs', integer('--epochs', 1), 15)
  .option('--batch-size <n>', 'sequences per batch', integer('--batch-size', 1), 64)
  .option('--dim <n>', 'hidden size', integer('--dim', 1), 32)
  .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'), 3e-3)
  .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 1)
  .option('--json', 'print one JSON object as the last line')
  .action(toyCommand);

registerDownloadCommand(program);
registerDataCommands(program);
registerModelCommands(program);
registerServeCommands(program);
registerReportCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`cammsr: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
