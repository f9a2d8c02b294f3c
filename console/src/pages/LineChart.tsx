// A small SVG line chart of a few series over a time window: enough for rates on the dashboard
// without a charting library. The figures beside it carry the numbers for screen readers; the
// chart itself is one image with a summary as its name.

export interface Point {
  /** Milliseconds (Date.now()). */
  t: number;
  v: number;
}

export interface Series {
  label: string;
  color: string;
  points: Point[];
}

const W = 600;
const H = 160;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

/** A round step above `max` for the y axis, so the scale does not jitter with every point. */
function ceiling(max: number): number {
  if (max <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= max) ?? 10 * p;
}

export function LineChart(props: { series: Series[]; windowMs: number; now: number; unit: string; summary: string }) {
  const { series, windowMs, now } = props;
  const top = ceiling(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v))));
  const x = (t: number) => PAD.left + ((t - (now - windowMs)) / windowMs) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const minutes = Math.round(windowMs / 60_000);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.summary}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} class="grid" />
            <text x={PAD.left - 4} y={y(top * f) + 4} text-anchor="end">
              {top * f}
            </text>
          </g>
        ))}
        <text x={PAD.left} y={H - 4}>
          −{minutes} min
        </text>
        <text x={W - PAD.right} y={H - 4} text-anchor="end">
          now
        </text>
        {series.map((s) => (
          <polyline
            key={s.label}
            fill="none"
            stroke={s.color}
            stroke-width="2"
            points={s.points
              .filter((p) => p.t >= now - windowMs)
              .map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
              .join(" ")}
          />
        ))}
      </svg>
      <figcaption>
        {series.map((s) => (
          <span key={s.label} class="legend">
            <span class="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}
          </span>
        ))}
        <span class="hint"> ({props.unit})</span>
      </figcaption>
    </figure>
  );
}
