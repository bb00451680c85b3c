// What every command of the CLI shares on its way in and out: --json, the JSON-or-text printer, whole-number options,
// and the text forms of ages and tables.
import { InvalidArgumentError, Option } from 'commander';

/** The options every command but `worker` takes. */
export interface Output {
  json: boolean;
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON');
}

/** Prints `json` as JSON with --json, else `text`. */
export function print(out: Output, json: unknown, text: string): void {
  console.log(out.json ? JSON.stringify(json, null, 2) : text);
}

/** A commander parser for a whole number >= 0. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

export function ago(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

/** Rows of cells (the first the header) in aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
