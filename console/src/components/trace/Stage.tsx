// One step of the timeline: its name, a status badge, and what happened there.
import type { ReactNode } from "react";
import { Badge } from "../ui";

export type Tone = "good" | "bad" | "warn" | "neutral";

export function Stage({
  title,
  status,
  tone,
  children,
}: {
  title: string;
  status: string;
  tone: Tone;
  children?: ReactNode;
}) {
  return (
    <li className={`stage stage-${tone}`}>
      <div className="stage-head">
        <h3>{title}</h3>
        <Badge tone={tone}>{status}</Badge>
      </div>
      {children ? <div className="stage-body">{children}</div> : null}
    </li>
  );
}

/** A stage the message never reached: it says so, and why. */
export function Skipped({ title, stopped }: { title: string; stopped: string | null | undefined }) {
  return (
    <Stage title={title} status="did not happen" tone="neutral">
      <p className="muted small">{stopped ? `The message stopped earlier: ${stopped}.` : "The message stopped earlier."}</p>
    </Stage>
  );
}

/** Name/value rows; a value may be anything a message carries. */
export function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function valueText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
