/** "Protocol": the split, ranking, model selection and settings, from the configuration defaults and the plan. */
import { resolveConfig } from '../../../src/config/index.js';
import type { ReportContext } from '../context.js';

export function protocol({ plan, planned }: ReportContext): string[] {
  const d = resolveConfig({});
  return [
    '',
    '## Protocol',
    '',
    '- Split: chronological leave-one-out per user (last item = test, second-to-last = validation, the rest = training).',
    '- Ranking: the target against all items (no sampled negatives); ties pessimistic (items scoring the same as the target rank above it).',
    `- Primary numbers: history items NOT masked (RecBole's default, as in HM4SR); secondary: the user's history masked out of the ranking (tables "history masked").`,
    `- Model selection: the epoch with the best validation ${d.train.validationMetric} (history ${d.train.maskHistory ? '' : 'not '}masked); early stopping after ${d.train.patience} evaluations without improvement, at most ${d.train.epochs} epochs; test metrics of that checkpoint.`,
    `- Models: d ${d.dim}, ${d.layers} layers, ${d.heads} heads, FFN ${d.ffnDim}, max length ${d.maxLen}; Adam lr ${d.train.lr}, batch ${d.train.batchSize}; CAMMSR K = ${d.cammsr.experts}, β = ${d.cammsr.beta}, λ = ${d.cammsr.lambda}, τ = ${d.cammsr.msclTau}, ρ = ${d.cammsr.msclRatio}, input norm ${d.cammsr.inputNorm}.`,
    `- Dataset-specific settings: ${plan.datasets.map((ds) => `${ds.name} ${ds.overrides.map((s) => `\`${s}\``).join(' ') || '(none)'}`).join('; ')}.`,
    `- Seeds: ${plan.seeds.join(', ')}; cells are mean ± sample standard deviation over seeds; "k/${planned} seeds" marks an incomplete cell.`,
    '- Marks: † some runs had their epochs capped with --max-epochs (quick checks, not results); ‡ some runs were made with a configuration that differs from the current plan.',
  ];
}
