// Counters read from the server's /metrics (Prometheus text): the families the console shows,
// summed per value of one label (per rule for the Rules page).

/** One sample line: `name{label="v",...} value` (label values escape `\` and `"`). */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** `totals[family][labelValue]`: the samples of each of `families`, summed by `label`. */
export function sumBy(text: string, families: string[], label: string): Record<string, Record<string, number>> {
  const totals: Record<string, Record<string, number>> = Object.fromEntries(families.map((f) => [f, {}]));
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m || !(m[1] in totals)) continue;
    let key: string | undefined;
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      if (l[1] === label) key = l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = Number(m[3]);
    if (key === undefined || Number.isNaN(value)) continue;
    totals[m[1]][key] = (totals[m[1]][key] ?? 0) + value;
  }
  return totals;
}
