/** `cammsr serve` as a child process: where it listens. */

/**
 * The address in `cammsr serve`'s start line ("… at http://127.0.0.1:8080; explorer at …, API at
 * …/openapi.json; access: …"), undefined before it is printed.
 */
export const listeningUrl = (output: string): string | undefined =>
  /cammsr serve: .* at (http:\/\/\S+?); explorer at /.exec(output)?.[1];
