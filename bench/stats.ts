/** Small helpers shared by the benchmarks: medians of repeated runs, a table, one JSON line. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function repeat(
  times: number,
  run: () => Promise<number> | number,
): Promise<{ median: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < times; i++) runs.push(await run());
  return { median: median(runs), runs };
}

export function table(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: readonly (string | number)[]) =>
    r.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
  return [
    `\n${title}`,
    line(headers),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return String(Math.round(n));
  if (Math.abs(n) >= 1) return n.toFixed(1);
  return n.toPrecision(3);
}
