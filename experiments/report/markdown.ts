/** How the report writes numbers, cells and tables in markdown. */
import type { DatasetPlan, VariantPlan } from '../harness/plan-shape.js';
import type { Summary } from './statistics.js';

export const NOT_RUN = 'not run yet';
export const f4 = (x: number) => x.toFixed(4);
export const signed = (x: number, digits = 4) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
export const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}%`;

export function mdTable(headers: string[], rows: string[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** A `###` heading and what follows it. */
const subsection = (title: string, ...lines: string[]) => ['', `### ${title}`, '', ...lines];

/** A `##` section: its heading, an introduction, and a subsection per dataset that has lines (body not null). */
export function perDataset(
  datasets: readonly DatasetPlan[],
  heading: string,
  intro: string,
  body: (ds: DatasetPlan) => string[] | null,
): string[] {
  const L = ['', `## ${heading}`, '', intro];
  for (const ds of datasets) {
    const lines = body(ds);
    if (lines) L.push(...subsection(ds.name, ...lines));
  }
  return L;
}

/** A variant's config overrides as inline code, or "(defaults)". */
export const overridesText = (v: VariantPlan) => v.set.map((x) => `\`${x}\``).join(' ') || '(defaults)';

export function cellText(s: Summary | null, digits = 4): string {
  if (!s) return NOT_RUN;
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.mean) : `${f(s.mean)} ± ${f(s.std)}`;
}

export function seedsText(n: number, planned: number): string {
  if (n === 0) return NOT_RUN;
  return n >= planned ? String(n) : `${n}/${planned} seeds`;
}
