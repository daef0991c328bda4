/** The shape of a CLI command and option parsing helpers with clear errors. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): void | Promise<void>;
}

export class UsageError extends Error {}

export function numberOption(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`--${name}: expected a number, got '${raw}'`);
  return v;
}

export function intOption(name: string, raw: string | undefined, dflt: number, min = -Infinity): number {
  const v = numberOption(name, raw, dflt);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got '${raw}'`);
  return v;
}
