// Small numeric helpers shared by the measurements: one copy each of the median, the quantile, rounding, the sleep,
// a tally of statuses and the least-squares trend the soak judges growth by.

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The value at rank floor(q × n) of the sorted values (the last one at most); NaN for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Rounds to `digits` decimals (for the JSON and the table). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How many answers had each status, keyed by the status. */
export function tally(answers: Array<{ status: number }>): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  return statuses;
}

export interface Trend {
  first: number;
  last: number;
  min: number;
  max: number;
  /** Least-squares slope, per 10 minutes (x in seconds). */
  slope_per_10min: number;
  /** Residual standard deviation around that line. */
  noise: number;
  flat: boolean;
  /**
   * The same judgement over the second half of the points alone: a table that grows until its first autovacuum and
   * then holds is flat there; one that keeps growing is not.
   */
  flat_second_half: boolean;
}

/**
 * The trend of points (seconds, value). Flat: the fitted growth over the span (slope × span) is within noise: at
 * most twice the residual standard deviation, or 5 % of the mean (whichever is larger; sizes move in 8 kB pages,
 * memory in allocator chunks).
 */
export function trend(points: Array<[number, number]>): Trend {
  const whole = fit(points);
  const half = fit(points.slice(Math.floor(points.length / 2)));
  return { ...whole, flat_second_half: half.flat };
}

function fit(points: Array<[number, number]>): Omit<Trend, 'flat_second_half'> {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  const residuals = points.map(([x, y]) => y - (my + slope * (x - mx)));
  const noise = Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / Math.max(1, n - 2));
  const span = points.at(-1)![0] - points[0]![0];
  const ys = points.map(([, y]) => y);
  return {
    first: ys[0]!,
    last: ys.at(-1)!,
    min: Math.min(...ys),
    max: Math.max(...ys),
    slope_per_10min: round(slope * 600, 3),
    noise: round(noise, 3),
    flat: Math.abs(slope * span) <= Math.max(2 * noise, 0.05 * Math.abs(my)),
  };
}
