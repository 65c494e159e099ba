/** The PyTorch reference numbers, parsed from reference-findings.md's results table. */
import { existsSync, readFileSync } from 'node:fs';
import { show } from '../paths.js';

export interface ReferenceValue {
  mean: number;
  std: number | null;
  masked: number | null;
}

export interface ReferenceRow {
  dataset: string;
  seeds: number;
  model: string;
  /** Our variant the row corresponds to (sasrec, cammsr), when there is one. */
  variant: string | null;
  hr10: ReferenceValue;
  ndcg10: ReferenceValue;
}

export function parseReference(text: string): ReferenceRow[] {
  const value = (cell: string): ReferenceValue | null => {
    const m = /^([\d.]+)(?:\s*±\s*([\d.]+))?\s*(?:\(([\d.]+)\))?$/.exec(cell.trim());
    return m
      ? { mean: Number(m[1]), std: m[2] ? Number(m[2]) : null, masked: m[3] ? Number(m[3]) : null }
      : null;
  };
  const rows: ReferenceRow[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length !== 6) continue; // "| dataset (n seeds) | model | HR@10 | NDCG@10 |"
    const ds = /^(\S+) \((\d+) seeds?\)$/.exec(cells[1]);
    const hr10 = value(cells[3]);
    const ndcg10 = value(cells[4]);
    if (!ds || !hr10 || !ndcg10) continue;
    const model = cells[2];
    const variant = /^SASRec\b/i.test(model) ? 'sasrec' : /^CAMMSR\b/i.test(model) ? 'cammsr' : null;
    rows.push({ dataset: ds[1], seeds: Number(ds[2]), model, variant, hr10, ndcg10 });
  }
  return rows;
}

/** The reference rows in `file`, and the report's sentence saying where they come from. */
export function loadReference(file: string | undefined): { rows: ReferenceRow[]; note: string } {
  if (!file || !existsSync(file))
    return {
      rows: [],
      note: `The PyTorch reference numbers (reference-findings.md) were not found${file ? ` at ${file}` : ''}.`,
    };
  const rows = parseReference(readFileSync(file, 'utf8'));
  return {
    rows,
    note: `PyTorch reference numbers parsed from \`${show(file)}\` (${rows.length} rows).`,
  };
}
