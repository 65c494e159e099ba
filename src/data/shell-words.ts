/** Arguments written as one POSIX shell command line, quoted only where a shell needs it. */

const PLAIN = /^[A-Za-z0-9_/.,:=@%+-]+$/;

export function shellWord(arg: string): string {
  return PLAIN.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const shellCommand = (args: readonly string[]): string => args.map(shellWord).join(' ');
