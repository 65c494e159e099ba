/**
 * Whole text files whose encoding is not stated: GroupLens wrote the older MovieLens files
 * (ml-100k's u.item, ml-1m's movies.dat) in ISO-8859-1 and the newer ones in UTF-8. A file
 * that is valid UTF-8 is read as UTF-8, any other as ISO-8859-1 (every byte is a character
 * there, so nothing is lost or replaced).
 */
import { readFileSync } from 'node:fs';
import { requireFile } from '../text-file.js';

export type TextEncoding = 'utf-8' | 'latin-1';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The file's lines (CRLF tolerated, BOM and a final empty line dropped) and the encoding used. */
export function readLinesAnyEncoding(
  path: string,
  what: string,
): { lines: string[]; encoding: TextEncoding } {
  requireFile(path, what);
  const bytes = readFileSync(path);
  let text: string;
  let encoding: TextEncoding = 'utf-8';
  try {
    text = utf8.decode(bytes);
  } catch {
    text = bytes.toString('latin1');
    encoding = 'latin-1';
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return { lines, encoding };
}
