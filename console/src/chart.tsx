import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  /** One value per x; null where there is no data (drawn as a gap). */
  values: Array<number | null>;
}

interface ChartProps {
  title: string;
  /** Unix seconds, ascending. */
  xs: number[];
  series: ChartSeries[];
  format: (n: number | null) => string;
  height?: number;
  /** Draw each value as a dot too: for series with gaps (rates, latency), where a lone bucket has no line. */
  dots?: boolean;
}

/** Distinguishable on white and for the common colour-vision deficiencies (Okabe–Ito). */
const COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442'];

/** One uPlot time-series chart. It is re-created when the set of series changes, otherwise only its data is swapped. */
export function Chart({ title, xs, series, format, height = 180, dots = false }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('\u0000');
  const data = [xs, ...series.map((s) => s.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => format(t)), size: 84 }],
      series: [
        { label: 'time' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length]!,
          width: 2,
          spanGaps: false,
          points: { show: dots, size: 5, fill: COLORS[i % COLORS.length]! },
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : format(v)),
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Re-created only when the series (labels) or height change; data updates below.
  }, [labels, height, dots]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} over time, ${series.length} series`} />
    </figure>
  );
}
