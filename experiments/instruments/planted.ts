/**
 * Does a model's learned per-category modality weighting match the structure planted in a
 * synthetic dataset (src/data/importers/synth.ts)? In a text-driven category only the text
 * reveals the category, in an image-driven one only the image, in an ID-driven one neither
 * content modality (the ID embedding can learn any item's category). So the weights are right
 * when, per category: text-driven -> w_text > w_image; image-driven -> w_image > w_text;
 * ID-driven -> w_id above both content weights.
 */
import type { Modality } from '../../src/config/names.js';
import type { PlantedStructure } from '../../src/data/importers/synth.js';

export interface ModalityWeights {
  id: number;
  text: number;
  image: number;
}

export interface PlantedRow extends ModalityWeights {
  category: string;
  driving: Modality;
  /** Training positions the weights were averaged over. */
  positions: number;
  recovered: boolean;
}

/**
 * Compares per-category weights (index = category id, as a CAMMSR epoch log's
 * `diagnostics.categoryWeights`) with the planted driving modality of each category.
 */
export function checkPlantedWeights(
  categoryNames: readonly string[],
  planted: PlantedStructure,
  weights: readonly ((Partial<ModalityWeights> & { positions?: number }) | null)[],
): { rows: PlantedRow[]; recovered: number; total: number } {
  const rows: PlantedRow[] = [];
  categoryNames.forEach((category, c) => {
    const driving = planted.drivingModality[category];
    const w = weights[c];
    if (!driving || !w) return;
    const id = w.id ?? 0;
    const text = w.text ?? 0;
    const image = w.image ?? 0;
    const recovered =
      driving === 'text' ? text > image : driving === 'image' ? image > text : id > text && id > image;
    rows.push({ category, driving, id, text, image, positions: w.positions ?? 0, recovered });
  });
  return { rows, recovered: rows.filter((r) => r.recovered).length, total: rows.length };
}
