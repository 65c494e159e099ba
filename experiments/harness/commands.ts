/** The `cammsr` commands equivalent to what the harness does: printed, and recorded with the results. */
import type { PrepareOptions } from '../../src/data/prepare.js';
import { SHARED_DATASETS, show } from '../paths.js';
import type { PlannedRun } from './expand-plan.js';
import type { DatasetPlan, VariantPlan } from './plan-shape.js';
import { runOverrides } from './plan-rules.js';
import { datasetDir, runWorkDir, type Paths } from './work-tree.js';

/** How to prepare the dataset a variant trains on (its text and image encoders) into `out`. */
export function prepareOptions(ds: DatasetPlan, v: VariantPlan, out: string): PrepareOptions {
  const text =
    v.text === 'word-vectors'
      ? { wordVectors: 'wink' }
      : v.text === 'bert' && ds.bert
        ? ds.bert(SHARED_DATASETS)
        : 'tfidf';
  const dim = v.textDim !== undefined ? { textDim: v.textDim } : {};
  return { ...ds.prepare(SHARED_DATASETS), text, ...dim, image: v.image ?? 'pixels', out };
}

export function prepareCommand(o: PrepareOptions): string {
  const a = ['cammsr prepare', o.format];
  if (o.input) a.push('--input', show(o.input));
  if (o.synth?.users) a.push('--users', String(o.synth.users));
  if (o.synth?.items) a.push('--items', String(o.synth.items));
  if (o.seed !== undefined) a.push('--seed', String(o.seed));
  if (o.images) a.push('--images', show(o.images));
  if (o.kcore)
    a.push(
      ...(o.kcore.user === o.kcore.item
        ? ['--kcore', String(o.kcore.user)]
        : ['--user-core', String(o.kcore.user), '--item-core', String(o.kcore.item)]),
    );
  if (typeof o.text === 'object' && 'wordVectors' in o.text)
    a.push('--text word-vectors --word-vectors', o.text.wordVectors);
  else if (typeof o.text === 'object' && 'npy' in o.text)
    a.push('--text-features', show(o.text.npy), '--text-ids', show(o.text.ids));
  else a.push('--text', String(o.text));
  if (o.textDim !== undefined) a.push('--text-dim', String(o.textDim));
  a.push('--image', String(o.image), '--out', show(o.out));
  return a.join(' ');
}

export function trainCommand(p: Paths, r: PlannedRun, maxEpochs?: number): string {
  return [
    'cammsr train --data',
    show(datasetDir(p, r.dataset, r.variant)),
    '--model',
    r.variant.model,
    '--seed',
    String(r.seed),
    ...runOverrides(r.dataset, r.variant, maxEpochs).map((s) => `--set ${s}`),
    '--out',
    show(runWorkDir(p, r)),
  ].join(' ');
}
