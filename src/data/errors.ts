/** Errors and skip accounting for bad input. */
import type { SkipReport } from './types.js';

/** A problem with input data. The message names the file (and line, field or id) and what was expected. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Counts skipped records by reason and keeps a few examples of each. */
export class SkipCounter {
  records = 0;
  private readonly reasons = new Map<string, number>();
  private readonly examples: string[] = [];
  private readonly perReason = new Map<string, number>();

  constructor(private readonly maxExamplesPerReason = 3) {}

  /** One more record read. */
  read(n = 1): void {
    this.records += n;
  }

  /** A record skipped: `reason` groups it, `where` ("file:line") and `detail` explain it. */
  skip(reason: string, where: string, detail: string): void {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    const shown = this.perReason.get(reason) ?? 0;
    if (shown < this.maxExamplesPerReason) {
      this.examples.push(`${where}: ${detail}`);
      this.perReason.set(reason, shown + 1);
    }
  }

  get skipped(): number {
    let n = 0;
    for (const c of this.reasons.values()) n += c;
    return n;
  }

  report(): SkipReport {
    return {
      records: this.records,
      skipped: this.skipped,
      reasons: Object.fromEntries(this.reasons),
      examples: [...this.examples],
    };
  }
}

/** Merges skip reports of several files into one. */
export function mergeSkips(...reports: SkipReport[]): SkipReport {
  const reasons: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  return {
    records: reports.reduce((s, r) => s + r.records, 0),
    skipped: reports.reduce((s, r) => s + r.skipped, 0),
    reasons,
    examples: reports.flatMap((r) => r.examples),
  };
}

/**
 * Fails when more than `maxRate` of the records were skipped (unless allowed), with a summary
 * of the reasons and examples.
 */
export function checkSkipRate(report: SkipReport, allowSkips: boolean, maxRate = 0.01): void {
  if (report.skipped === 0 || allowSkips) return;
  const rate = report.records > 0 ? report.skipped / report.records : 1;
  if (rate > maxRate) {
    const reasons = Object.entries(report.reasons)
      .map(([r, n]) => `${n} ${r}`)
      .join(', ');
    throw new DataError(
      `${report.skipped} of ${report.records} records (${(100 * rate).toFixed(2)}%) were skipped, more than ` +
        `${100 * maxRate}%: ${reasons}. Examples:\n  ${report.examples.join('\n  ')}\n` +
        'Fix the input, or pass --allow-skips to proceed without them.',
    );
  }
}

/** A new item's content that cannot be encoded (an image sharp cannot decode, a modality the encoders lack). */
export class ContentError extends Error {
  constructor(
    readonly modality: 'text' | 'image',
    message: string,
  ) {
    super(`${modality}: ${message}`);
    this.name = 'ContentError';
  }
}
