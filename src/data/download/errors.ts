/** Why a download failed: each kind has its own message and its own way out. */

export type DownloadErrorKind =
  /** The host cannot be reached (DNS failure, connection refused or timed out). */
  | 'offline'
  /** The server answered with an error status (404, 500, ...). */
  | 'http'
  /** The transfer stopped before the end; the `.part` file is kept for a resume. */
  | 'interrupted'
  /** The file's digest is not the pinned one; the file was deleted. */
  | 'checksum'
  /** The catalogue has no published checksum for a file and --allow-unpinned was not given. */
  | 'unpinned'
  /** An archive cannot be extracted (corrupt, unsupported, unsafe paths). */
  | 'archive'
  /** A name that is not in the catalogue, or a bad option. */
  | 'usage';

export class DownloadError extends Error {
  constructor(
    readonly kind: DownloadErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}
