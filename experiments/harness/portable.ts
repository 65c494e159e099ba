/**
 * Results are committed, so they must not carry the absolute paths of the machine that made
 * them: a path inside the repository becomes relative to it (whichever checkout ran it), the
 * default results folder is dropped from a recorded command, any other absolute path becomes
 * its file name.
 */

/** The part of an absolute path from a repository folder on, or its file name. */
export function portablePath(path: string): string {
  if (!path.startsWith('/')) return path;
  const m = /\/((?:experiments|native|docs|runs)\/.*)$/.exec(path);
  return m ? m[1] : path.split('/').pop()!;
}

/** A recorded `npm run experiments` command with portable paths. */
export function portableCommand(command: string): string {
  return command
    .replace(/ --results \S*\/experiments\/results(?=\s|$)/g, '')
    .replace(/(^|\s)(\/\S+)/g, (_, space: string, path: string) => space + portablePath(path));
}

/** A run's stored JSON files with portable paths (run.json and experiment.json). */
export function portableRecord(file: string, record: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(record) as Record<string, unknown> & {
    dataset?: { dir?: string };
    invocation?: string;
    machine?: { backendInfo?: { addon?: string } };
  };
  if (file === 'run.json' && typeof out.dataset?.dir === 'string')
    out.dataset.dir = portablePath(out.dataset.dir);
  if (file === 'experiment.json') {
    if (typeof out.invocation === 'string') out.invocation = portableCommand(out.invocation);
    const info = out.machine?.backendInfo;
    if (info && typeof info.addon === 'string') info.addon = portablePath(info.addon);
  }
  return out;
}
