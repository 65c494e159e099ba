/** Progress bars with an ETA on stderr (only on a terminal), fed by the library's ProgressFn. */
import cliProgress from 'cli-progress';
import type { ProgressFn } from '../data/types.js';

export interface ProgressBars {
  update: ProgressFn;
  stop(): void;
}

export function progressBars(enabled = process.stderr.isTTY === true): ProgressBars {
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
