/**
 * Where a reload may load a bundle from: folders under the configured roots only (default: the
 * folder holding the served bundle), so that an admin key cannot point the service at any
 * folder on the server's disk. Paths are compared after symbolic links are resolved.
 */
import { realpathSync } from 'node:fs';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import { HttpError } from './http-errors.js';

/** The roots for a service serving `bundle`: the given ones, or the bundle's parent folder. */
export function bundleRoots(bundle: string, roots?: readonly string[]): string[] {
  const given = roots && roots.length > 0 ? roots : [dirname(resolve(bundle))];
  return given.map((r) => real(resolve(r)));
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

/** `path` if it lies under one of `roots`; a 403 naming the path as given otherwise. */
export function checkUnderRoots(path: string, roots: readonly string[]): string {
  const target = real(resolve(path));
  if (!roots.some((root) => inside(root, target)))
    throw new HttpError(
      403,
      `${path} is not under the bundle roots this service may reload from (--bundle-root)`,
    );
  return path;
}
