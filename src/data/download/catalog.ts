/**
 * The public datasets `cammsr download` knows: where each file is published, the checksum
 * pinned for it and where that pin comes from, its licence terms, and the `cammsr prepare`
 * command that imports it.
 *
 * A checksum is pinned only when one is published; none is ever computed here and written in.
 * A file without a pin is downloaded only with --allow-unpinned, and the sha256 computed is
 * printed so that it can be pinned once checked.
 */
import { join } from 'node:path';

export interface CatalogFile {
  /** The canonical HTTPS URL. */
  url: string;
  /** The name in the dataset's cache folder (unique over the catalogue: mirrors are flat). */
  fileName: string;
  /** The published sha256 (hex); undefined when none is published. */
  sha256?: string;
  /** Where the sha256 (and `bytes`) were published. */
  pinSource?: string;
  /** The exact size in bytes, when published. */
  bytes?: number;
  /** A rounded size ("213 MB") when only that is published. */
  approxSize?: string;
  /** A zip archive, extracted into the dataset's folder; `folder` is the top folder it holds. */
  zip?: { folder: string };
}

/** Where the downloaded files are, for the prepare command. */
export interface DownloadedPaths {
  /** The dataset's folder in the cache. */
  dir: string;
}

export interface CatalogEntry {
  name: string;
  /** What it is, in a few words. */
  description: string;
  /** The terms of use, short. */
  licence: string;
  /** The page that documents the dataset and its terms. */
  homepage: string;
  files: CatalogFile[];
  /** The arguments after `cammsr` that import the downloaded files. */
  prepare(paths: DownloadedPaths): string[];
}

// ---------------------------------------------------------------------------------------
// MovieLens (GroupLens)

/** The terms in the README of each zip, in short. */
const GROUPLENS_TERMS = 'research use; no redistribution without permission; cite Harper & Konstan (2015)';

/** TensorFlow Datasets pins the GroupLens zips by sha256 and size. */
const TFDS_PIN =
  'TensorFlow Datasets, tensorflow_datasets/url_checksums/movielens.txt (github.com/tensorflow/datasets)';

function movielens(release: string, description: string, sha256: string, bytes: number): CatalogEntry {
  const name = `movielens-${release}`;
  const folder = `ml-${release}`;
  return {
    name,
    description,
    licence: GROUPLENS_TERMS,
    homepage: `https://grouplens.org/datasets/movielens/${release}/`,
    files: [
      {
        url: `https://files.grouplens.org/datasets/movielens/${folder}.zip`,
        fileName: `${folder}.zip`,
        sha256,
        bytes,
        pinSource: TFDS_PIN,
        zip: { folder },
      },
    ],
    prepare: ({ dir }) => ['prepare', 'movielens', '--input', join(dir, folder), '--out', name],
  };
}

// ---------------------------------------------------------------------------------------
// Amazon reviews

/** The arguments that import an Amazon category (5-core, as in the sequential-recommendation literature). */
function amazonPrepare(name: string, year: '2018' | '2023', reviews: string, meta: string) {
  return ({ dir }: DownloadedPaths): string[] => [
    'prepare',
    'amazon',
    '--input',
    join(dir, reviews),
    '--meta',
    join(dir, meta),
    '--amazon-format',
    year,
    '--kcore',
    '5',
    '--out',
    name,
  ];
}

/**
 * Amazon Review Data (2018), Ni, Li & McAuley (EMNLP 2019), documented at
 * nijianmo.github.io/amazon; the files are served by the McAuley lab at UCSD (earlier links
 * to the same files: jmcauley.ucsd.edu/data/amazon_v2 and deepyeti.ucsd.edu/jianmo/amazon).
 * No checksums are published for them.
 */
const UCSD_2018 = 'https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2';

function amazon2018(category: string, title: string): CatalogEntry {
  const name = `amazon2018-${category.toLowerCase().replace(/_/g, '-')}`;
  const reviews = `${category}.json.gz`;
  const meta = `meta_${category}.json.gz`;
  return {
    name,
    description: `Amazon 2018 ${title}: reviews, product metadata`,
    licence: 'research use per the dataset terms; cite Ni, Li & McAuley (2019)',
    homepage: 'https://nijianmo.github.io/amazon/',
    files: [
      { url: `${UCSD_2018}/categoryFiles/${reviews}`, fileName: reviews },
      { url: `${UCSD_2018}/metaFiles2/${meta}`, fileName: meta },
    ],
    prepare: amazonPrepare(name, '2018', reviews, meta),
  };
}

/**
 * Amazon Reviews 2023, Hou et al. (arXiv:2403.03952), on Hugging Face. The URLs name the
 * repository revision whose Git LFS pointer carries the pinned sha256, so the bytes cannot
 * change under the pin; the Hub shows each pointer's sha256 and a rounded size.
 */
const HF_2023 = 'https://huggingface.co/datasets/McAuley-Lab/Amazon-Reviews-2023/resolve';

interface HfFile {
  revision: string;
  sha256?: string;
  approxSize: string;
}

function hfFile(path: string, f: HfFile): CatalogFile {
  const file: CatalogFile = {
    url: `${HF_2023}/${f.revision}/${path}`,
    fileName: path.slice(path.lastIndexOf('/') + 1),
    approxSize: f.approxSize,
  };
  if (f.sha256 !== undefined) {
    file.sha256 = f.sha256;
    file.pinSource = `Git LFS pointer of ${path} at revision ${f.revision.slice(0, 7)} (huggingface.co/datasets/McAuley-Lab/Amazon-Reviews-2023)`;
  }
  return file;
}

function amazon2023(category: string, title: string, reviews: HfFile, meta: HfFile): CatalogEntry {
  const name = `amazon2023-${category.toLowerCase().replace(/_/g, '-')}`;
  const files = [
    hfFile(`raw/review_categories/${category}.jsonl`, reviews),
    hfFile(`raw/meta_categories/meta_${category}.jsonl`, meta),
  ];
  return {
    name,
    description: `Amazon 2023 ${title}: reviews, item metadata`,
    licence: 'research use per the dataset terms; cite Hou et al. (2024)',
    homepage: 'https://amazon-reviews-2023.github.io/',
    files,
    prepare: amazonPrepare(name, '2023', files[0].fileName, files[1].fileName),
  };
}

// ---------------------------------------------------------------------------------------

export const CATALOG: readonly CatalogEntry[] = [
  movielens(
    '100k',
    'MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (1998)',
    '50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229',
    4924029,
  ),
  movielens(
    '1m',
    'MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (2003)',
    'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20',
    5917549,
  ),
  movielens(
    '20m',
    'MovieLens 20M: 20 million ratings, 138,493 users (2015)',
    '96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3',
    198702078,
  ),
  movielens(
    '25m',
    'MovieLens 25M: 25 million ratings, 162,541 users (2019)',
    '8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa',
    261978986,
  ),
  amazon2018('All_Beauty', 'All Beauty'),
  amazon2018('Industrial_and_Scientific', 'Industrial and Scientific'),
  amazon2023(
    'All_Beauty',
    'All Beauty',
    // No published sha256 found for this file: it is downloaded only with --allow-unpinned.
    { revision: 'main', approxSize: '327 MB' },
    {
      revision: '138009d93d8b3f1c4cfee36891b99dc406ad424a',
      sha256: '1cfbdf6d2ccf9c3ac52a4508b15f31f8f340508a245b65c3e3b5f461e06e97ef',
      approxSize: '213 MB',
    },
  ),
  amazon2023(
    'Industrial_and_Scientific',
    'Industrial and Scientific',
    {
      revision: '00c59de018d315119c8b8496d1d336e39a16f713',
      sha256: '361f68c9535f038fab119099e79207099bee60b2cd7a98246c36b3b12c7aa678',
      approxSize: '2.35 GB',
    },
    {
      revision: 'ccafc173d8eaaa2cb137af2c81c0aabb9e359ca1',
      sha256: '114fcde36f6205bde5d0ebed24613a35e475aa06b285011ed1e892dc26da3942',
      approxSize: '1.13 GB',
    },
  ),
];

/** The entry of `name`, or undefined. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.name === name);
}

/** Whether every file of the entry has a pinned checksum. */
export const fullyPinned = (e: CatalogEntry): boolean => e.files.every((f) => f.sha256 !== undefined);
