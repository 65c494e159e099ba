/** Parsers of numeric option values: a bad value is a usage error that names the option. */
import { InvalidArgumentError } from 'commander';

/** An integer of at least `min` and, when `max` is given, at most `max`. */
export function integer(name: string, min = 0, max?: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max))
      throw new InvalidArgumentError(
        max === undefined
          ? `${name} must be an integer >= ${min}, got "${v}"`
          : `${name} must be an integer from ${min} to ${max}, got "${v}"`,
      );
    return n;
  };
}

export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n))
      throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}
