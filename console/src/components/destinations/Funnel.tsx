// The delivery overview as a funnel: of the events the destination received, how many were
// filtered out, mapped (queued), delivered, retried or failed, with the reasons.
import { useState } from "react";
import { useGet } from "../../hooks";
import { Card, ErrorNote, Loading } from "../ui";
import type { Status, StatusCount } from "./types";

const WINDOWS = [
  { minutes: 60, label: "Last hour" },
  { minutes: 1440, label: "Last 24 hours" },
  { minutes: 10080, label: "Last 7 days" },
];

const STAGES: { outcome: string; label: string; tone: string; help: string }[] = [
  { outcome: "received", label: "Received", tone: "neutral", help: "events that reached this destination" },
  { outcome: "filtered", label: "Filtered out", tone: "warn", help: "dropped by consent, filters, sampling or triggers" },
  { outcome: "invalid", label: "Could not be mapped", tone: "bad", help: "the mapping gave an invalid payload" },
  { outcome: "mapped", label: "Mapped and queued", tone: "neutral", help: "payloads queued for delivery" },
  { outcome: "delivered", label: "Delivered", tone: "good", help: "accepted by the tool" },
  { outcome: "retried", label: "Retried", tone: "warn", help: "failed for now and tried again later" },
  { outcome: "failed", label: "Failed", tone: "bad", help: "refused for good: see the dead letters" },
];

export function totals(counts: StatusCount[]): Record<string, number> {
  const found: Record<string, number> = {};
  for (const row of counts) found[row.outcome] = (found[row.outcome] ?? 0) + row.count;
  return found;
}

function reasons(counts: StatusCount[], outcome: string): [string, number][] {
  const found = new Map<string, number>();
  for (const row of counts)
    if (row.outcome === outcome && row.reason) found.set(row.reason, (found.get(row.reason) ?? 0) + row.count);
  return [...found.entries()].sort((a, b) => b[1] - a[1]);
}

export function Funnel({ name }: { name: string }) {
  const [minutes, setMinutes] = useState(60);
  const status = useGet<Status>(`/api/v1/destinations/${encodeURIComponent(name)}/status?minutes=${minutes}`, 3);
  const sums = totals(status.data?.counts ?? []);
  const widest = Math.max(1, ...Object.values(sums));
  return (
    <Card
      title="Delivery"
      actions={
        <select aria-label="Time window" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w.minutes} value={w.minutes}>
                {w.label}
              </option>
            ))}
        </select>
      }
    >
      <ErrorNote error={status.error} />
      {status.data === undefined ? (
        <Loading what="Counting deliveries" />
      ) : (
        <>
          <ol className="funnel" aria-label="Delivery funnel">
            {STAGES.map((stage) => {
              const count = sums[stage.outcome] ?? 0;
              const why = reasons(status.data?.counts ?? [], stage.outcome);
              return (
                <li key={stage.outcome} className={`funnel-stage ${stage.tone}`} data-outcome={stage.outcome}>
                  <div className="funnel-label">
                    <span>{stage.label}</span>
                    <strong className="funnel-count">{count.toLocaleString()}</strong>
                  </div>
                  <div className="funnel-track" aria-hidden="true">
                    <div className="funnel-bar" style={{ width: `${(100 * count) / widest}%` }} />
                  </div>
                  <div className="muted small">{stage.help}</div>
                  {why.length > 0 ? (
                    <ul className="reasons">
                      {why.slice(0, 5).map(([reason, n]) => (
                        <li key={reason}>
                          {n.toLocaleString()} × {reason}
                        </li>
                      ))}
                    </ul>
                  ) : null}
                </li>
              );
            })}
          </ol>
          <p className="muted small">
            Waiting to be sent: <strong>{status.data.pending}</strong> · Dead letters: <strong>{status.data.dead_letters}</strong>
          </p>
        </>
      )}
    </Card>
  );
}
