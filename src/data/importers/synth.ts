/**
 * A synthetic multimodal dataset with PLANTED structure: the item's category decides WHICH
 * modality predicts the next item. It is the demo's default data on a fresh machine (no
 * downloads, default size in about a second) and the ground truth against which learned
 * per-category modality weights (w_id, w_text, w_image) are checked.
 *
 * Design
 * - C flat categories (categoryPaths false), equal sizes; item ids are shuffled so that an id
 *   says nothing about its category. Each category gets a driving modality, cycling
 *   text, image, id over the category index (8 categories: 3 text, 3 image, 2 id).
 * - Every item has three latents, each with a fixed owner pool:
 *     topic   : a word vocabulary (10 pseudo-words). Text-driven categories own their topics
 *               (~16 items per topic); every other item draws one of the shared GENERIC topics.
 *     style   : a visual style (hue, lightness, background pattern, foreground shape).
 *               Image-driven categories own their styles (hues 360/S apart inside a category);
 *               every other item draws one of the shared GENERIC styles.
 *     successor: in ID-driven categories, a random cyclic permutation of the category's items
 *               (invisible in content); no successor elsewhere.
 *   Title (3-6 words) and description (10-30 words) mix topic words, a few words of a random
 *   other topic (noise) and generic filler; the PNG renders the style with jittered hue,
 *   lightness, pattern frequency/phase, shape position/size and pixel noise.
 *   So a non-driving modality carries a latent too, but one independent of the transition.
 * - Category cues ("categoryCues", default 'driving'): only the driving modality reveals the
 *   category (text-driven topics and image-driven styles are category-owned, generic pools are
 *   shared). CAMMSR's weights are trained by category prediction (L_CP) AND by the next-item
 *   loss; with 'driving' both push towards the same modality, so the planted answer is
 *   unambiguous. 'all' adds the category word to every title and a category-coloured band to
 *   every image, as in real catalogs: then only the next-item loss can find the answer.
 * - A fraction of items (multiLabelRate, default 0.1) carry a second, metadata-only label;
 *   the first label is the primary category that drives behaviour.
 * - Users: length 5 + geometric (mean 10), capped at 200. Three weighted interests, drifting
 *   (after each session, with probability 0.2 one interest is replaced). A session (mean 4
 *   items) stays in one category: its first item is popularity-weighted (Zipf inside the
 *   category), then each next item follows the driving mechanism (same topic / same style /
 *   the successor) with probability 1 - noise, else is a uniformly random item of the
 *   category. Items are never repeated for a user (as in deduplicated review data); when the
 *   mechanism has no unseen candidate the step falls back to random (`transitions.fallback`).
 * - Timestamps: integer seconds from 2021, 20 s + Exp(180 s) inside a session,
 *   1 h + Exp(3 days) between sessions; strictly increasing per user. Rows are user-major
 *   and chronological.
 * - Randomness: one Rng(seed) forks independent streams for structure, text, images and users,
 *   so e.g. changing `users` leaves the catalog (texts and PNG bytes) unchanged; each image has
 *   its own seed, so concurrent PNG writing cannot change a byte.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import sharp from 'sharp';
import type { Modality } from '../../config/names.js';
import { Rng } from '../../engine/rng.js';
import type { ItemRecord, ProgressFn, RawDataset } from '../types.js';

// The planted structure names modalities; re-exported for its readers.
export type { Modality };

export interface SynthOptions {
  /** Number of users (default 2000). */
  users?: number;
  /** Number of catalog items (default 1000). */
  items?: number;
  seed?: number;
  /** Directory the `<item id>.png` files are written to (created if missing). */
  imagesDir: string;
  /** Image side in pixels (default 64). */
  imageSize?: number;
  /** Number of categories (default 8, at most 16). */
  categories?: number;
  /** Probability that a within-session step ignores the driving mechanism (default 0.2). */
  noise?: number;
  /** Which modalities reveal an item's category (default 'driving'; see the file comment). */
  categoryCues?: 'driving' | 'all';
  /** Fraction of items with a second, metadata-only category label (default 0.1). */
  multiLabelRate?: number;
  /** PNG files encoded at once (default 8). */
  concurrency?: number;
}

/** The latents of one item (keys are item ids). */
export interface PlantedItem {
  /** Primary category: the one that drives the item's transitions (= categories[0][0]). */
  category: string;
  /** Text topic, "<Category>/t<k>" when category-owned, "generic/t<k>" otherwise. */
  topic: string;
  /** Visual style, "<Category>/s<k>" when category-owned, "generic/s<k>" otherwise. */
  style: string;
  /** The planted successor in ID-driven categories, null elsewhere. */
  successor: string | null;
}

/** The ground truth planted in a synthetic dataset. */
export interface PlantedStructure {
  /** category name -> the modality that predicts the next item inside that category. */
  drivingModality: Record<string, Modality>;
  description: string;
  /** Probability that a within-session step is a random item of the category. */
  noise: number;
  categories: string[];
  categoryCues: 'driving' | 'all';
  items: Record<string, PlantedItem>;
  /** What the generator actually did (within-session steps). */
  transitions: { withinSession: number; followed: number; random: number; fallback: number };
}

const CATEGORY_NAMES = [
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
const FILLER = (
  'premium classic compact durable lightweight set pack edition model new original quality easy ' +
  'everyday modern portable deluxe essential improved standard large small mini pro plus ultra soft ' +
  'strong simple smart natural perfect great value gift daily multi design style series kit version ' +
  'color size piece item bundle collection choice favorite reliable sturdy handy practical basic'
).split(' ');
const FUNCTION_WORDS = 'with for and the a of in to by from this your'.split(' ');
const SYLLABLES = (
  'ka ve lo mi ra tu sen dor pi na zel qua mor fi ta len bri go sha ru kel vin pa do ne xo ly ' +
  'ber cal dri fen gra hol jun kro mal nor pel ros sul tor vex wil yar zun'
).split(' ');
const PATTERNS = ['hstripes', 'vstripes', 'diagonal', 'checker', 'dots', 'rings', 'gradient'] as const;
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross'] as const;
type Pattern = (typeof PATTERNS)[number];
type Shape = (typeof SHAPES)[number];

interface Style {
  name: string;
  hue: number; // degrees
  sat: number;
  light: number;
  pattern: Pattern;
  shape: Shape;
  freq: number; // pattern repetitions across the image
}

interface Topic {
  name: string;
  words: string[];
}

const WORDS_PER_TOPIC = 10;
const GENERIC_TOPICS = 12;
const GENERIC_STYLES = 12;
const START_TIME = 1609459200; // 2021-01-01T00:00:00Z

/**
 * Generates the dataset and writes one PNG per item into `imagesDir`. The same options give
 * the same interactions, texts and PNG bytes.
 */
export async function synthesize(
  opts: SynthOptions,
  progress?: ProgressFn,
): Promise<{ raw: RawDataset; planted: PlantedStructure }> {
  const nUsers = opts.users ?? 2000;
  const nItems = opts.items ?? 1000;
  const seed = opts.seed ?? 1;
  const size = opts.imageSize ?? 64;
  const nCats = opts.categories ?? 8;
  const noise = opts.noise ?? 0.2;
  const cues = opts.categoryCues ?? 'driving';
  const multiLabelRate = opts.multiLabelRate ?? 0.1;
  const concurrency = opts.concurrency ?? 8;
  checkInt('users', nUsers, 1);
  checkInt('categories', nCats, 1, CATEGORY_NAMES.length);
  // every category needs a few items to walk through, every user 5 distinct items
  checkInt('items', nItems, Math.max(8, 4 * nCats));
  checkInt('imageSize', size, 8, 1024);
  checkInt('concurrency', concurrency, 1);
  checkUnit('noise', noise);
  checkUnit('multiLabelRate', multiLabelRate);
  if (cues !== 'driving' && cues !== 'all') throw new RangeError(`categoryCues must be 'driving' or 'all'`);

  const master = new Rng(seed);
  const rStruct = master.fork();
  const rText = master.fork();
  const rImg = master.fork();
  const rUsers = master.fork();

  // ---- categories and their items
  const cats = CATEGORY_NAMES.slice(0, nCats);
  const driving = cats.map((_, c) => DRIVING_CYCLE[c % DRIVING_CYCLE.length]);
  const idWidth = Math.max(4, String(nItems).length);
  const itemIds = Array.from({ length: nItems }, (_, i) => `i${String(i + 1).padStart(idWidth, '0')}`);
  const order = Int32Array.from({ length: nItems }, (_, i) => i);
  rStruct.shuffle(order);
  const itemCat = new Int32Array(nItems);
  const members: number[][] = cats.map(() => []);
  for (let k = 0; k < nItems; k++) {
    const c = k % nCats;
    itemCat[order[k]] = c;
    members[c].push(order[k]);
  }
  for (const m of members) m.sort((a, b) => a - b);
  // ~16 items per latent group, 2..8 groups per category
  const groupsOf = (c: number): number => Math.max(2, Math.min(8, Math.floor(members[c].length / 16)));

  // ---- text topics
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
  const catTopics: Topic[][] = cats.map((name, c) =>
    driving[c] === 'text' ? Array.from({ length: groupsOf(c) }, (_, k) => newTopic(`${name}/t${k}`)) : [],
  );
  const genericTopics = Array.from({ length: GENERIC_TOPICS }, (_, k) => newTopic(`generic/t${k}`));
  const allTopics = [...catTopics.flat(), ...genericTopics];

  // ---- visual styles: inside an image-driven category, hues are 360/S apart
  const imageCats = cats.map((_, c) => c).filter((c) => driving[c] === 'image');
  const catStyles: Style[][] = cats.map(() => []);
  {
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
        catStyles[c].push({
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
  }
  const genericStyles: Style[] = Array.from({ length: GENERIC_STYLES }, (_, k) => ({
    name: `generic/s${k}`,
    hue: rStruct.uniform() * 360,
    sat: 0.35 + 0.5 * rStruct.uniform(),
    light: 0.35 + 0.3 * rStruct.uniform(),
    pattern: PATTERNS[rStruct.int(PATTERNS.length)],
    shape: SHAPES[rStruct.int(SHAPES.length)],
    freq: 3 + rStruct.int(5),
  }));
  const catColor = cats.map((_, c) => hslToRgb((c * 360) / nCats, 0.9, 0.5));

  // ---- item latents: topic, style, successor; group member lists for the transitions
  const itemTopic = new Array<Topic>(nItems);
  const itemStyle = new Array<Style>(nItems);
  const itemGroup = new Int32Array(nItems).fill(-1);
  const groupMembers: number[][] = [];
  const successor = new Int32Array(nItems).fill(-1);
  for (let c = 0; c < nCats; c++) {
    const m = members[c];
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
      itemTopic[it] = driving[c] === 'text' ? catTopics[c][g] : genericTopics[rStruct.int(GENERIC_TOPICS)];
      itemStyle[it] = driving[c] === 'image' ? catStyles[c][g] : genericStyles[rStruct.int(GENERIC_STYLES)];
    }
  }

  // ---- texts and labels
  const items = new Map<string, ItemRecord>();
  const plantedItems: Record<string, PlantedItem> = {};
  const absDir = resolve(opts.imagesDir);
  for (let it = 0; it < nItems; it++) {
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
    if (cues === 'all') titleWords.push(cats[c].toLowerCase());
    const descWords: string[] = [];
    for (let n = 10 + rText.int(21), tries = 0; descWords.length < n && tries < 100; tries++) {
      const w = word(0.35, 0.08, 0.3);
      if (w !== descWords[descWords.length - 1]) descWords.push(w);
    }
    const labels = [[cats[c]]];
    if (nCats > 1 && rText.uniform() < multiLabelRate)
      labels.push([cats[(c + 1 + rText.int(nCats - 1)) % nCats]]);
    const id = itemIds[it];
    items.set(id, {
      title: titleWords.map(capitalize).join(' '),
      description: capitalize(descWords.join(' ')) + '.',
      categories: labels,
      image: resolve(absDir, `${id}.png`),
    });
    plantedItems[id] = {
      category: cats[c],
      topic: topic.name,
      style: itemStyle[it].name,
      successor: successor[it] >= 0 ? itemIds[successor[it]] : null,
    };
  }
  progress?.('synth: items', nItems, nItems);

  // ---- images: one seed per item, drawn in order, so scheduling cannot change the bytes
  const imageSeeds = Uint32Array.from({ length: nItems }, () => rImg.nextU32());
  await mkdir(absDir, { recursive: true });
  let nextImage = 0;
  let imagesDone = 0;
  const worker = async (): Promise<void> => {
    while (nextImage < nItems) {
      const it = nextImage++;
      const band = cues === 'all' ? catColor[itemCat[it]] : null;
      const px = renderImage(itemStyle[it], size, new Rng(imageSeeds[it]), band);
      await sharp(px, { raw: { width: size, height: size, channels: 3 } })
        .png({ compressionLevel: 6, adaptiveFiltering: false })
        .toFile(items.get(itemIds[it])!.image!);
      imagesDone++;
      if (progress && (imagesDone % 100 === 0 || imagesDone === nItems))
        progress('synth: images', imagesDone, nItems);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, nItems) }, worker));

  // ---- users and their sequences
  // Zipf popularity inside each category for session starts (random rank order)
  const popCum: Float64Array[] = members.map((m) => {
    const ranks = Int32Array.from(m.keys());
    rStruct.shuffle(ranks);
    const cum = new Float64Array(m.length);
    let s = 0;
    for (let k = 0; k < m.length; k++) cum[k] = s += 1 / Math.pow(ranks[k] + 5, 0.9);
    return cum;
  });
  // category popularity: mildly uneven, random order
  const catWeights = cats.map((_, c) => 1 / (1 + 0.15 * c));
  rStruct.shuffle(catWeights);
  const userWidth = Math.max(4, String(nUsers).length);
  const userIds = Array.from({ length: nUsers }, (_, u) => `u${String(u + 1).padStart(userWidth, '0')}`);
  const rowsUser: number[] = [];
  const rowsItem: number[] = [];
  const rowsTime: number[] = [];
  const transitions = { withinSession: 0, followed: 0, random: 0, fallback: 0 };
  const r = rUsers;
  const geometric = (mean: number): number =>
    Math.floor(Math.log(1 - r.uniform()) / Math.log(mean / (mean + 1)));
  const exponential = (mean: number): number => -mean * Math.log(1 - r.uniform());
  const pickWeighted = (w: number[], exclude: Set<number>): number => {
    let total = 0;
    for (let k = 0; k < w.length; k++) if (!exclude.has(k)) total += w[k];
    let x = r.uniform() * total;
    for (let k = 0; k < w.length; k++) {
      if (exclude.has(k)) continue;
      x -= w[k];
      if (x < 0) return k;
    }
    for (let k = w.length - 1; k >= 0; k--) if (!exclude.has(k)) return k;
    return -1;
  };
  const uniformUnseen = (list: number[], seen: Set<number>): number => {
    for (let tries = 0; tries < 8; tries++) {
      const it = list[r.int(list.length)];
      if (!seen.has(it)) return it;
    }
    const rest = list.filter((it) => !seen.has(it));
    return rest.length ? rest[r.int(rest.length)] : -1;
  };
  const popularUnseen = (c: number, seen: Set<number>): number => {
    const cum = popCum[c];
    for (let tries = 0; tries < 8; tries++) {
      const x = r.uniform() * cum[cum.length - 1];
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid] > x) hi = mid;
        else lo = mid + 1;
      }
      const it = members[c][lo];
      if (!seen.has(it)) return it;
    }
    return uniformUnseen(members[c], seen);
  };
  const seenCount = new Int32Array(nCats);
  const none = new Set<number>();
  for (let u = 0; u < nUsers; u++) {
    const len = Math.min(200, 5 + geometric(10));
    const interests: number[] = [];
    while (interests.length < Math.min(3, nCats))
      interests.push(pickWeighted(catWeights, new Set(interests)));
    const seen = new Set<number>();
    seenCount.fill(0);
    let t = START_TIME + Math.floor(r.uniform() * 365 * 86400);
    let count = 0;
    const push = (it: number): void => {
      rowsUser.push(u);
      rowsItem.push(it);
      rowsTime.push(t);
      seen.add(it);
      seenCount[itemCat[it]]++;
      count++;
    };
    while (count < len) {
      let c = interests[pickWeighted([0.5, 0.3, 0.2].slice(0, interests.length), none)];
      if (seenCount[c] >= members[c].length) {
        const exhausted = new Set(cats.map((_, k) => k).filter((k) => seenCount[k] >= members[k].length));
        if (exhausted.size === nCats) break; // the user has seen the whole catalog
        c = pickWeighted(catWeights, exhausted);
      }
      const sessionLen = 1 + geometric(3);
      let prev = popularUnseen(c, seen);
      push(prev);
      for (let k = 1; k < sessionLen && count < len && seenCount[c] < members[c].length; k++) {
        t += 20 + Math.round(exponential(180));
        let next = -1;
        if (r.uniform() >= noise) {
          next =
            driving[c] === 'id'
              ? seen.has(successor[prev])
                ? -1
                : successor[prev]
              : uniformUnseen(groupMembers[itemGroup[prev]], seen);
          if (next >= 0) transitions.followed++;
          else transitions.fallback++;
        } else transitions.random++;
        if (next < 0) next = uniformUnseen(members[c], seen);
        transitions.withinSession++;
        push(next);
        prev = next;
      }
      t += 3600 + Math.round(exponential(3 * 86400));
      if (r.uniform() < 0.2 && nCats > interests.length) {
        interests[r.int(interests.length)] = pickWeighted(catWeights, new Set(interests));
      }
    }
    if (progress && ((u + 1) % 500 === 0 || u + 1 === nUsers)) progress('synth: users', u + 1, nUsers);
  }

  // ---- columns: itemIds lists only items that occur (the catalog may hold more)
  const used = new Int32Array(nItems).fill(-1);
  const logItemIds: string[] = [];
  const occurs = new Uint8Array(nItems);
  for (const it of rowsItem) occurs[it] = 1;
  for (let it = 0; it < nItems; it++) {
    if (occurs[it]) {
      used[it] = logItemIds.length;
      logItemIds.push(itemIds[it]);
    }
  }
  const n = rowsItem.length;
  const interactions = {
    userIds,
    itemIds: logItemIds,
    user: Int32Array.from(rowsUser),
    item: Int32Array.from(rowsItem, (it) => used[it]),
    time: Float64Array.from(rowsTime),
  };

  const drivingModality: Record<string, Modality> = {};
  cats.forEach((name, c) => (drivingModality[name] = driving[c]));
  const describe = (m: Modality): string => cats.filter((_, c) => driving[c] === m).join(', ') || '(none)';
  const description =
    `Synthetic CAMMSR data (seed ${seed}): inside a session the next item shares the previous item's ` +
    `text topic in text-driven categories [${describe('text')}], its visual style in image-driven ` +
    `categories [${describe('image')}], and is its fixed successor in ID-driven categories ` +
    `[${describe('id')}]; with probability ${noise} it is a random item of the category instead. ` +
    `Non-driving modalities carry latents independent of the transition; category cues: ${cues}.`;
  const source =
    `synth(users=${nUsers}, items=${nItems}, categories=${nCats}, seed=${seed}, noise=${noise}, ` +
    `imageSize=${size}, categoryCues=${cues}, multiLabelRate=${multiLabelRate}); images in ${absDir}`;
  return {
    raw: {
      name: 'synth',
      source,
      interactions,
      items,
      categoryPaths: false,
      skips: { records: n, skipped: 0, reasons: {}, examples: [] },
    },
    planted: {
      drivingModality,
      description,
      noise,
      categories: cats,
      categoryCues: cues,
      items: plantedItems,
      transitions,
    },
  };
}

/** RGB pixels (size² × 3) of one item's image: the style, jittered by `rng`. */
function renderImage(
  style: Style,
  size: number,
  rng: Rng,
  band: [number, number, number] | null,
): Uint8Array {
  const hue = style.hue + (rng.uniform() - 0.5) * 12;
  const sat = clamp(style.sat + (rng.uniform() - 0.5) * 0.1, 0, 1);
  const light = clamp(style.light + (rng.uniform() - 0.5) * 0.08, 0.1, 0.9);
  const main = hslToRgb(hue, sat, light);
  const second = hslToRgb(hue, sat * 0.8, clamp(light + (light < 0.5 ? 0.28 : -0.28), 0, 1));
  const accent = hslToRgb(hue + 180, clamp(sat + 0.1, 0, 1), 0.5);
  const freq = style.freq * (0.8 + 0.45 * rng.uniform());
  const phase = rng.uniform() * 2 * Math.PI;
  const angle = rng.uniform() * 2 * Math.PI;
  const cx = size * (0.4 + 0.2 * rng.uniform());
  const cy = size * (0.4 + 0.2 * rng.uniform());
  const half = size * (0.16 + 0.08 * rng.uniform());
  const bandRows = band ? Math.max(2, Math.round(size / 10)) : 0;
  const px = new Uint8Array(size * size * 3);
  const noise = new Uint32Array(px.length);
  rng.fillU32(noise);
  const w = (2 * Math.PI * freq) / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let mix: number; // 0 = main colour, 1 = second colour
      switch (style.pattern) {
        case 'hstripes':
          mix = Math.sin(w * y + phase) > 0 ? 1 : 0;
          break;
        case 'vstripes':
          mix = Math.sin(w * x + phase) > 0 ? 1 : 0;
          break;
        case 'diagonal':
          mix = Math.sin((w * (x + y)) / Math.SQRT2 + phase) > 0 ? 1 : 0;
          break;
        case 'checker':
          mix = (Math.floor((x * freq) / size + phase) + Math.floor((y * freq) / size)) & 1;
          break;
        case 'dots': {
          const cell = size / freq;
          const dx = ((x + phase * cell) % cell) - cell / 2;
          const dy = (y % cell) - cell / 2;
          mix = dx * dx + dy * dy < (cell * cell) / 10 ? 1 : 0;
          break;
        }
        case 'rings':
          mix = Math.sin((w / 2) * Math.hypot(x - size / 2, y - size / 2) + phase) > 0 ? 1 : 0;
          break;
        default: // gradient along a random direction
          mix = clamp(
            0.5 + ((x - size / 2) * Math.cos(angle) + (y - size / 2) * Math.sin(angle)) / size,
            0,
            1,
          );
      }
      let col: number[] | null = null;
      if (band && y < bandRows) col = band;
      else if (inShape(style.shape, x + 0.5 - cx, y + 0.5 - cy, half)) col = accent;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v = col ? col[ch] : main[ch] + (second[ch] - main[ch]) * mix;
        // triangular pixel noise in ±8 from the two halves of one random word
        const u = noise[o + ch];
        px[o + ch] = clamp(Math.round(v + ((u & 0xffff) / 65535 + (u >>> 16) / 65535 - 1) * 8), 0, 255);
      }
    }
  }
  return px;
}

function inShape(shape: Shape, dx: number, dy: number, half: number): boolean {
  const ax = Math.abs(dx);
  const ay = Math.abs(dy);
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= half * half;
    case 'square':
      return ax <= half && ay <= half;
    case 'diamond':
      return ax + ay <= half * 1.3;
    case 'cross':
      return (ax <= half && ay <= half * 0.35) || (ay <= half && ax <= half * 0.35);
    default: // triangle, apex up
      return dy >= -half && dy <= half && ax <= ((dy + half) / (2 * half)) * half;
  }
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  h = (((h % 360) + 360) % 360) / 60;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    h < 1
      ? [c, x, 0]
      : h < 2
        ? [x, c, 0]
        : h < 3
          ? [0, c, x]
          : h < 4
            ? [0, x, c]
            : h < 5
              ? [x, 0, c]
              : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function capitalize(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

function checkInt(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`synth: ${name} must be an integer in [${min}, ${max}], got ${v}`);
}

function checkUnit(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`synth: ${name} must be in [0, 1], got ${v}`);
}
