/** `cammsr report`: a thin shell over src/report. */
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { renderReport } from '../report/html.js';
import { collectRunReport } from '../report/report-data.js';
import { formatTable } from '../report/table.js';

interface ReportFlags {
  run: string;
  compare?: string[];
  out: string;
  split: 'test' | 'validation';
  json?: boolean;
}

function reportCommand(o: ReportFlags): void {
  const runs = [o.run, ...(o.compare ?? [])].map((r) => collectRunReport(r, { split: o.split }));
  const html = renderReport(runs);
  writeFileSync(o.out, html);
  const test = (r: (typeof runs)[number], metric: string) => r.metrics?.test[metric] ?? '-';
  const rows = runs.map((r) => [r.name, r.model, r.bestEpoch ?? '-', test(r, 'NDCG@10'), test(r, 'HR@10')]);
  console.log(formatTable(['run', 'model', 'best epoch', 'test NDCG@10', 'test HR@10'], rows));
  console.log(`wrote ${o.out} (${(html.length / 1024).toFixed(0)} KiB, self-contained)`);
  if (o.json)
    console.log(
      JSON.stringify({
        out: o.out,
        bytes: html.length,
        runs: runs.map((r) => ({
          name: r.name,
          model: r.model,
          bestEpoch: r.bestEpoch,
          test: r.metrics?.test ?? null,
        })),
      }),
    );
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('a self-contained HTML report of a run (curves, metrics, modality weights, breakdowns)')
    .requiredOption('--run <run>', 'run directory')
    .option('--compare <run...>', 'other runs to put beside it (metrics and validation curves)')
    .requiredOption('--out <file>', 'HTML file to write')
    .addOption(
      new Option('--split <split>', 'split of the breakdowns')
        .choices(['test', 'validation'])
        .default('test'),
    )
    .option('--json', 'print one JSON object as the last line')
    .action(reportCommand);
}
