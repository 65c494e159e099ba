/**
 * What importers produce and what the preparation pipeline consumes. Importers only read
 * files; everything else (dedupe, k-core, ordering, id maps, categories, features, writing)
 * is done once, by prepare.ts, for every format alike.
 */

/**
 * An interaction log in columns (no JS object per row, so tens of millions of rows fit).
 * Row r: user userIds[user[r]] interacted with item itemIds[item[r]] at time[r].
 */
export interface InteractionColumns {
  /** Distinct original user ids; `user` indexes into it. */
  userIds: string[];
  /** Distinct original item ids; `item` indexes into it. */
  itemIds: string[];
  user: Int32Array;
  item: Int32Array;
  /**
   * Seconds since the Unix epoch (fractions allowed), or null when the source has no
   * timestamps: then the row order within each user is the chronological order.
   */
  time: Float64Array | null;
}

/** One item of a catalog, keyed by its original id. Every field is optional. */
export interface ItemRecord {
  title?: string;
  /** Longer text (description, brand, ...) used with the title for text features. */
  description?: string;
  /**
   * Category labels as paths from the root to a node, e.g. [["Beauty", "Skin Care", "Face"]],
   * or flat labels as one-element paths: [["Action"], ["Comedy"]].
   */
  categories?: string[][];
  /** Absolute path of the item's image file, or undefined when it has none. */
  image?: string;
}

/** Records an importer skipped, by reason, with a few examples naming file and line. */
export interface SkipReport {
  /** Number of records the importer read (the denominator of the skip rate). */
  records: number;
  skipped: number;
  /** reason -> count */
  reasons: Record<string, number>;
  /** Up to a few "file:line: what was wrong" strings per reason. */
  examples: string[];
}

/** The result of an importer. */
export interface RawDataset {
  name: string;
  /** Human-readable provenance: format and input files. */
  source: string;
  interactions: InteractionColumns;
  /** Catalog metadata by original item id (may be empty). */
  items: Map<string, ItemRecord>;
  /** True when `categories` hold hierarchical paths (Amazon), false for flat labels. */
  categoryPaths: boolean;
  /** False when category labels are opaque ids without names (default true). */
  categoryNamesKnown?: boolean;
  skips: SkipReport;
}

/** Progress of long work: called with the work done so far out of `total` (units vary). */
export type ProgressFn = (stage: string, done: number, total: number) => void;
