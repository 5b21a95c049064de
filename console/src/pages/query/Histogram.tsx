import { useEffect, useRef } from "preact/hooks";

export interface Buckets {
  starts: number[]; // seconds since the epoch
  counts: number[];
}

// Rows over time as bars (uPlot, loaded lazily). The figure carries a text summary for screen readers.
export function Histogram({ buckets, label }: { buckets: Buckets; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let chart: { destroy: () => void } | null = null;
    let destroyed = false;
    void (async () => {
      const [{ default: uPlot }] = await Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]);
      if (destroyed || !host.current) return;
      const width = Math.max(280, host.current.clientWidth || 600);
      chart = new uPlot(
        {
          width,
          height: 140,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [{}, { size: 50 }],
          series: [{}, { label: "rows", fill: "rgba(37, 99, 235, 0.35)", stroke: "#1d4ed8", paths: uPlot.paths.bars!({ size: [0.9, 60] }) }],
        },
        [buckets.starts, buckets.counts],
        host.current,
      );
    })();
    return () => {
      destroyed = true;
      chart?.destroy();
    };
  }, [buckets]);
  const total = buckets.counts.reduce((a, b) => a + b, 0);
  return (
    <figure class="histogram" aria-label={label}>
      <div ref={host} aria-hidden="true" />
      <figcaption>
        {label}: {total} rows in {buckets.starts.length} buckets
      </figcaption>
    </figure>
  );
}
