/** A small inline SVG line chart of one series (null points are gaps at zero). */
export function Chart({
  label,
  values,
  unit,
  testId,
}: {
  label: string;
  values: (number | null)[];
  unit?: string;
  testId?: string;
}) {
  const w = 300;
  const h = 80;
  const nums = values.map((v) => v ?? 0);
  const max = Math.max(1, ...nums);
  const n = Math.max(2, nums.length);
  const points = nums.map((v, i) => `${((i / (n - 1)) * w).toFixed(1)},${(h - (v / max) * (h - 4)).toFixed(1)}`);
  const last = values.at(-1);
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption className="label">
        <span>{label}</span>
        <span>
          {last === null || last === undefined
            ? '—'
            : `${Number.isInteger(last) ? last : last.toFixed(1)}${unit ?? ''}`}{' '}
          · max {Number.isInteger(max) ? max : max.toFixed(1)}
          {unit ?? ''}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={`${label}, last 10 minutes`}>
        <line className="axis" x1="0" y1={h - 0.5} x2={w} y2={h - 0.5} />
        {points.length > 1 ? (
          <>
            <polygon className="area" points={`0,${h} ${points.join(' ')} ${w},${h}`} />
            <polyline points={points.join(' ')} />
          </>
        ) : null}
      </svg>
    </figure>
  );
}
