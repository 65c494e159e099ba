/** Titles, descriptions and category labels of the synthetic items, drawn from their topics. */
import { resolve } from 'node:path';
import type { Rng } from '../../../engine/rng.js';
import type { ItemRecord } from '../../types.js';
import type { PlantedItem } from '../synth.js';
import { FILLER, FUNCTION_WORDS, WORDS_PER_TOPIC, type Catalog } from './catalog.js';

export interface TextOptions {
  /** Add the category word to every title ('all' cues). */
  categoryWord: boolean;
  multiLabelRate: number;
  /** Absolute folder of the `<item id>.png` files. */
  imagesDir: string;
}

/** The item records (texts, labels, image paths) and the planted latents of every item. */
export function writeItemTexts(
  catalog: Catalog,
  rText: Rng,
  o: TextOptions,
): { items: Map<string, ItemRecord>; planted: Record<string, PlantedItem> } {
  const { cats, itemIds, itemCat, itemTopic, itemStyle, successor, allTopics } = catalog;
  const nCats = cats.length;
  const items = new Map<string, ItemRecord>();
  const planted: Record<string, PlantedItem> = {};
  for (let it = 0; it < itemIds.length; it++) {
    const c = itemCat[it];
    const topic = itemTopic[it];
    const word = (pTopic: number, pNoise: number, pFiller: number): string => {
      const r = rText.uniform();
      if (r < pTopic) return topic.words[rText.int(WORDS_PER_TOPIC)];
      if (r < pTopic + pNoise) {
        const t = allTopics[rText.int(allTopics.length)];
        return t.words[rText.int(WORDS_PER_TOPIC)];
      }
      if (r < pTopic + pNoise + pFiller) return FILLER[rText.int(FILLER.length)];
      return FUNCTION_WORDS[rText.int(FUNCTION_WORDS.length)];
    };
    // no word twice in a title, none twice in a row in a description (reads less machine-made)
    const titleWords: string[] = [];
    for (let n = 3 + rText.int(4), tries = 0; titleWords.length < n && tries < 50; tries++) {
      const w = word(0.55, 0.1, 0.35);
      if (!titleWords.includes(w)) titleWords.push(w);
    }
    if (o.categoryWord) titleWords.push(cats[c].toLowerCase());
    const descWords: string[] = [];
    for (let n = 10 + rText.int(21), tries = 0; descWords.length < n && tries < 100; tries++) {
      const w = word(0.35, 0.08, 0.3);
      if (w !== descWords[descWords.length - 1]) descWords.push(w);
    }
    const labels = [[cats[c]]];
    if (nCats > 1 && rText.uniform() < o.multiLabelRate)
      labels.push([cats[(c + 1 + rText.int(nCats - 1)) % nCats]]);
    const id = itemIds[it];
    items.set(id, {
      title: titleWords.map(capitalize).join(' '),
      description: capitalize(descWords.join(' ')) + '.',
      categories: labels,
      image: resolve(o.imagesDir, `${id}.png`),
    });
    planted[id] = {
      category: cats[c],
      topic: topic.name,
      style: itemStyle[it].name,
      successor: successor[it] >= 0 ? itemIds[successor[it]] : null,
    };
  }
  return { items, planted };
}

function capitalize(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}
