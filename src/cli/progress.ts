/**
 * Progress on stderr, fed by the library's ProgressFn: bars with an ETA on a terminal, plain
 * lines elsewhere (a log file, CI: a new stage, then at most one line every 5 s, then its end).
 */
import cliProgress from 'cli-progress';
import type { ProgressFn } from '../data/types.js';

export interface ProgressBars {
  update: ProgressFn;
  stop(): void;
}

export function progressBars(enabled = true): ProgressBars {
  if (enabled && process.stderr.isTTY !== true) return progressLines();
  let bar: cliProgress.SingleBar | null = null;
  let stage = '';
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(s, done, total) {
      if (!enabled) return;
      if (s !== stage || bar === null) {
        stop();
        stage = s;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${s.padEnd(10)} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(total, 1), done);
      } else {
        bar.setTotal(Math.max(total, 1));
        bar.update(done);
      }
    },
    stop,
  };
}

/** One line per stage start, at most one every `everyMs` while it runs, and one when it ends. */
export function progressLines(
  everyMs = 5000,
  write: (line: string) => void = (l) => void process.stderr.write(l),
): ProgressBars {
  let stage = '';
  let last = 0;
  return {
    update(s, done, total) {
      const now = Date.now();
      const end = done >= total;
      if (s === stage && !end && now - last < everyMs) return;
      if (s === stage && end && last === -1) return;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      write(`${s}: ${done}/${total} (${pct}%)\n`);
      stage = s;
      last = end ? -1 : now;
    },
    stop() {},
  };
}
