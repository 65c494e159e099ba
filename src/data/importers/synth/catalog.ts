/**
 * The planted catalog of the synthetic dataset: categories, each with a driving modality, and
 * per item a text topic, a visual style and (in ID-driven categories) a successor. See
 * docs/data-format.md, "Synthetic data".
 */
import type { Modality } from '../../../config/names.js';
import type { Rng } from '../../../engine/rng.js';

export const CATEGORY_NAMES = [
  'Outdoor',
  'Kitchen',
  'Books',
  'Toys',
  'Beauty',
  'Garden',
  'Electronics',
  'Sports',
  'Music',
  'Office',
  'Pets',
  'Automotive',
  'Games',
  'Health',
  'Jewelry',
  'Baby',
];
const DRIVING_CYCLE: Modality[] = ['text', 'image', 'id'];

// Generic product-listing words: shared by every item, so they carry no signal.
export const FILLER = (
  'premium classic compact durable lightweight set pack edition model new original quality easy ' +
  'everyday modern portable deluxe essential improved standard large small mini pro plus ultra soft ' +
  'strong simple smart natural perfect great value gift daily multi design style series kit version ' +
  'color size piece item bundle collection choice favorite reliable sturdy handy practical basic'
).split(' ');
export const FUNCTION_WORDS = 'with for and the a of in to by from this your'.split(' ');
const SYLLABLES = (
  'ka ve lo mi ra tu sen dor pi na zel qua mor fi ta len bri go sha ru kel vin pa do ne xo ly ' +
  'ber cal dri fen gra hol jun kro mal nor pel ros sul tor vex wil yar zun'
).split(' ');
const PATTERNS = ['hstripes', 'vstripes', 'diagonal', 'checker', 'dots', 'rings', 'gradient'] as const;
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross'] as const;
export type Pattern = (typeof PATTERNS)[number];
export type Shape = (typeof SHAPES)[number];

export interface Style {
  name: string;
  hue: number; // degrees
  sat: number;
  light: number;
  pattern: Pattern;
  shape: Shape;
  freq: number; // pattern repetitions across the image
}

export interface Topic {
  name: string;
  words: string[];
}

export const WORDS_PER_TOPIC = 10;
const GENERIC_TOPICS = 12;
const GENERIC_STYLES = 12;

/** Items are indices 0..n-1 here; `itemIds` names them. */
export interface Catalog {
  /** Category names; a category is its index. */
  cats: string[];
  /** The driving modality of each category. */
  driving: Modality[];
  itemIds: string[];
  itemCat: Int32Array;
  /** Items of each category, ascending. */
  members: number[][];
  /** Category-owned and generic topics (the noise words of texts come from any of them). */
  allTopics: Topic[];
  itemTopic: Topic[];
  itemStyle: Style[];
  /** The item's latent group (same topic or style) in text- and image-driven categories, else -1. */
  itemGroup: Int32Array;
  groupMembers: number[][];
  /** The planted next item in ID-driven categories, else -1. */
  successor: Int32Array;
}

/** Plants the catalog: `rStruct` draws the structure, `rText` the topic words. */
export function plantCatalog(nItems: number, nCats: number, rStruct: Rng, rText: Rng): Catalog {
  const cats = CATEGORY_NAMES.slice(0, nCats);
  const driving = cats.map((_, c) => DRIVING_CYCLE[c % DRIVING_CYCLE.length]);
  const idWidth = Math.max(4, String(nItems).length);
  const itemIds = Array.from({ length: nItems }, (_, i) => `i${String(i + 1).padStart(idWidth, '0')}`);
  const { itemCat, members } = assignCategories(nItems, nCats, rStruct);
  // ~16 items per latent group, 2..8 groups per category
  const groupsOf = (c: number): number => Math.max(2, Math.min(8, Math.floor(members[c].length / 16)));
  const topics = plantTopics(cats, driving, groupsOf, rText);
  const styles = plantStyles(cats, driving, groupsOf, rStruct);
  const latents = assignLatents(members, driving, groupsOf, topics, styles, rStruct);
  return { cats, driving, itemIds, itemCat, members, allTopics: topics.all, ...latents };
}

/** Equal-sized categories over shuffled items, so that an id says nothing about its category. */
function assignCategories(
  nItems: number,
  nCats: number,
  rStruct: Rng,
): { itemCat: Int32Array; members: number[][] } {
  const order = Int32Array.from({ length: nItems }, (_, i) => i);
  rStruct.shuffle(order);
  const itemCat = new Int32Array(nItems);
  const members: number[][] = Array.from({ length: nCats }, () => []);
  for (let k = 0; k < nItems; k++) {
    const c = k % nCats;
    itemCat[order[k]] = c;
    members[c].push(order[k]);
  }
  for (const m of members) m.sort((a, b) => a - b);
  return { itemCat, members };
}

interface Topics {
  /** Per category: its own topics (text-driven categories only). */
  owned: Topic[][];
  generic: Topic[];
  all: Topic[];
}

/** Topics of pseudo-words no other topic, filler or category name uses. */
function plantTopics(
  cats: string[],
  driving: Modality[],
  groupsOf: (c: number) => number,
  rText: Rng,
): Topics {
  const usedWords = new Set<string>([...FILLER, ...FUNCTION_WORDS, ...cats.map((c) => c.toLowerCase())]);
  const newTopic = (name: string): Topic => {
    const words: string[] = [];
    while (words.length < WORDS_PER_TOPIC) {
      const n = 2 + rText.int(2);
      let w = '';
      for (let s = 0; s < n; s++) w += SYLLABLES[rText.int(SYLLABLES.length)];
      if (!usedWords.has(w)) {
        usedWords.add(w);
        words.push(w);
      }
    }
    return { name, words };
  };
  const owned: Topic[][] = cats.map((name, c) =>
    driving[c] === 'text' ? Array.from({ length: groupsOf(c) }, (_, k) => newTopic(`${name}/t${k}`)) : [],
  );
  const generic = Array.from({ length: GENERIC_TOPICS }, (_, k) => newTopic(`generic/t${k}`));
  return { owned, generic, all: [...owned.flat(), ...generic] };
}

interface Styles {
  /** Per category: its own styles (image-driven categories only). */
  owned: Style[][];
  generic: Style[];
}

/** Visual styles: inside an image-driven category, hues are 360/S apart. */
function plantStyles(
  cats: string[],
  driving: Modality[],
  groupsOf: (c: number) => number,
  rStruct: Rng,
): Styles {
  const imageCats = cats.map((_, c) => c).filter((c) => driving[c] === 'image');
  const owned: Style[][] = cats.map(() => []);
  const total = imageCats.reduce((s, c) => s + groupsOf(c), 0);
  const offset = rStruct.uniform() * 360;
  const patterns = [...PATTERNS];
  const shapes = [...SHAPES];
  rStruct.shuffle(patterns);
  rStruct.shuffle(shapes);
  let g = 0;
  imageCats.forEach((c, j) => {
    const s = groupsOf(c);
    for (let k = 0; k < s; k++, g++) {
      owned[c].push({
        name: `${cats[c]}/s${k}`,
        hue: (offset + ((k * imageCats.length + j) * 360) / Math.max(total, 1)) % 360,
        sat: 0.65 + 0.3 * rStruct.uniform(),
        light: [0.38, 0.5, 0.62][g % 3],
        pattern: patterns[g % patterns.length],
        shape: shapes[(g + Math.floor(g / patterns.length)) % shapes.length],
        freq: 3 + rStruct.int(5),
      });
    }
  });
  const generic: Style[] = Array.from({ length: GENERIC_STYLES }, (_, k) => ({
    name: `generic/s${k}`,
    hue: rStruct.uniform() * 360,
    sat: 0.35 + 0.5 * rStruct.uniform(),
    light: 0.35 + 0.3 * rStruct.uniform(),
    pattern: PATTERNS[rStruct.int(PATTERNS.length)],
    shape: SHAPES[rStruct.int(SHAPES.length)],
    freq: 3 + rStruct.int(5),
  }));
  return { owned, generic };
}

/** Item latents (topic, style, successor) and the member lists of the latent groups. */
function assignLatents(
  members: number[][],
  driving: Modality[],
  groupsOf: (c: number) => number,
  topics: Topics,
  styles: Styles,
  rStruct: Rng,
): Pick<Catalog, 'itemTopic' | 'itemStyle' | 'itemGroup' | 'groupMembers' | 'successor'> {
  const nItems = members.reduce((s, m) => s + m.length, 0);
  const itemTopic = new Array<Topic>(nItems);
  const itemStyle = new Array<Style>(nItems);
  const itemGroup = new Int32Array(nItems).fill(-1);
  const groupMembers: number[][] = [];
  const successor = new Int32Array(nItems).fill(-1);
  members.forEach((m, c) => {
    const base = groupMembers.length;
    if (driving[c] === 'id') {
      const cycle = Int32Array.from(m);
      rStruct.shuffle(cycle);
      for (let k = 0; k < cycle.length; k++) successor[cycle[k]] = cycle[(k + 1) % cycle.length];
    } else {
      // balanced group sizes: deal a shuffled member list round-robin
      const nG = groupsOf(c);
      for (let g = 0; g < nG; g++) groupMembers.push([]);
      const shuffled = Int32Array.from(m);
      rStruct.shuffle(shuffled);
      shuffled.forEach((it, k) => {
        itemGroup[it] = base + (k % nG);
        groupMembers[base + (k % nG)].push(it);
      });
    }
    for (const it of m) {
      const g = itemGroup[it] - base;
      itemTopic[it] =
        driving[c] === 'text' ? topics.owned[c][g] : topics.generic[rStruct.int(GENERIC_TOPICS)];
      itemStyle[it] =
        driving[c] === 'image' ? styles.owned[c][g] : styles.generic[rStruct.int(GENERIC_STYLES)];
    }
  });
  return { itemTopic, itemStyle, itemGroup, groupMembers, successor };
}
