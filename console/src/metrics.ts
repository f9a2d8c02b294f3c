// The Prometheus text `/metrics` answers (OpenMetrics, as prometheus_client encodes it), read
// into samples that the Dashboard and the Rules page's per-rule counters sum and group.
// Counters carry their `_total` suffix.

import { Api, ApiError } from "./api";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One sample line: `name{label="v",...} value` (label values escape `\` and `"`). */
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) {
      labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = Number(m[3].replace(/^\+?Inf$/, "Infinity"));
    if (!Number.isNaN(value)) samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** The server's `/metrics` (unsigned, like `/health`), parsed; anything but a 200 is an error. */
export async function readMetrics(api: Api): Promise<Sample[]> {
  const res = await api.plain("/metrics");
  if (res.status !== 200) throw new ApiError(`/metrics answered HTTP ${res.status}`, `HTTP ${res.status}`, res.status);
  return parseMetrics(res.text);
}

/** The sum of every series of `name` (all label values), or undefined when there is none. */
export function total(samples: Sample[], name: string): number | undefined {
  let sum: number | undefined;
  for (const s of samples) if (s.name === name) sum = (sum ?? 0) + s.value;
  return sum;
}

/** The series of `name` summed per value of `label` (series without it under ""). */
export function byLabel(samples: Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? "";
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}
