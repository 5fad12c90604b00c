// Events per source over time, drawn with uPlot (imported here only: the overview's chunk).
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { SourceEvents } from "./types";

// Distinct, dark enough on white for lines (WCAG non-text contrast 3:1).
const COLORS = ["#1f5fbf", "#b3261e", "#1d7a46", "#8a5a00", "#6a3fb5", "#00707a", "#b0306a", "#4a5563"];
const HEIGHT = 220;

function tickLabel(seconds: number, hourly: boolean): string {
  const at = new Date(seconds * 1000);
  return hourly
    ? at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : // Days are UTC days on the server: named in UTC, or a day would show as the one before.
      at.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

/** One line per source; `hourly` picks the 24 h series, else the 7 d one. */
export function EventsChart({
  times,
  sources,
  hourly,
  label,
}: {
  times: string[];
  sources: SourceEvents[];
  hourly: boolean;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [
    times.map((t) => Date.parse(t) / 1000),
    ...sources.map((s) => (hourly ? s.hourly : s.daily)),
  ];
  // A new chart only when the lines change; a refresh with new counts only sets the data.
  const lines = sources.map((s) => s.name ?? s.id).join("\u0000");
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const made = new uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height: HEIGHT,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        legend: { live: false },
        axes: [
          {
            // One tick per hour or per day at most: the buckets are hours or days.
            incrs: hourly ? [3600, 7200, 10800, 14400, 21600, 43200] : [86400, 172800],
            values: (_u, splits) => splits.map((s) => tickLabel(s, hourly)),
          },
          { label: "events" },
        ],
        series: [
          { value: (_u, v) => (v === null ? "" : tickLabel(v, hourly)) },
          ...sources.map((s, i) => ({
            label: s.name ?? s.id,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            points: { show: true },
          })),
        ],
      },
      data,
      element,
    );
    chart.current = made;
    const resize = new ResizeObserver(() => made.setSize({ width: Math.max(280, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      made.destroy();
      chart.current = null;
    };
  }, [lines, hourly]);
  useEffect(() => {
    chart.current?.setData(data);
  });
  return <div ref={box} className="events-chart" role="img" aria-label={label} />;
}
