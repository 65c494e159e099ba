/** Reading whole text files (plain or gzip) and JSON files with errors that name the file. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors.js';

export function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new DataError(`${what} ${path} does not exist`);
  if (!statSync(path).isFile()) throw new DataError(`${what} ${path} is not a file`);
}

/** The file's text, gunzipped when it ends in .gz. */
export function readText(path: string, what = 'input file'): string {
  requireFile(path, what);
  const raw = readFileSync(path);
  try {
    return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot decompress (${(e as Error).message})`);
  }
}

/** Lines without their terminators (CRLF tolerated); a final empty line is dropped. */
export function readLines(path: string, what?: string): string[] {
  const lines = readText(path, what).split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** Parses a JSON file; a syntax error names the file and position. */
export function readJson(path: string, what?: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** A JSON object whose values are checked by the caller; anything else is a clear error. */
export function readJsonObject(path: string, what?: string): Record<string, unknown> {
  const v = readJson(path, what);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new DataError(
      `${path}: expected a JSON object at the top level, found ${Array.isArray(v) ? 'an array' : typeof v}`,
    );
  }
  return v as Record<string, unknown>;
}
