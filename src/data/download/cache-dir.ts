/**
 * Where downloads are kept: `--dir`, else $CAMMSR_CACHE, else $XDG_CACHE_HOME/cammsr, else
 * ~/.cache/cammsr. Each dataset gets a folder named after it inside.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The environment variable that moves the download cache. */
export const CACHE_ENV = 'CAMMSR_CACHE';

export interface CacheRoot {
  dir: string;
  /** What chose it, for messages. */
  from: '--dir' | typeof CACHE_ENV | 'XDG_CACHE_HOME' | 'home';
}

export function cacheRoot(dir?: string, env: NodeJS.ProcessEnv = process.env): CacheRoot {
  if (dir !== undefined && dir !== '') return { dir: resolve(dir), from: '--dir' };
  const own = env[CACHE_ENV];
  if (own !== undefined && own !== '') return { dir: resolve(own), from: CACHE_ENV };
  // The XDG spec says relative values are invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return { dir: join(xdg, 'cammsr'), from: 'XDG_CACHE_HOME' };
  return { dir: join(homedir(), '.cache', 'cammsr'), from: 'home' };
}
