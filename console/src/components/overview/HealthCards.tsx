// Pipeline lag per role, the violations of the last 7 days, and what waits for a person:
// held messages and dead letters, with links to where they are handled.
import { Link } from "../../router";
import { Card } from "../ui";
import { deadLettersLink, type Overview } from "./types";

function seconds(value: number | null): string {
  if (value === null) return "nothing due";
  if (value < 90) return `${Math.round(value)} s`;
  if (value < 5400) return `${Math.round(value / 60)} min`;
  return `${Math.round(value / 3600)} h`;
}

export function LagCard({ lag }: { lag: Overview["lag"] }) {
  return (
    <Card title="Pipeline lag">
      <dl className="facts">
        <div>
          <dt>Pipeline: messages not processed yet</dt>
          <dd className="stat">{lag.pipeline.records.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Deliver: deliveries waiting</dt>
          <dd className="stat">{lag.deliver.pending.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Deliver: due now, oldest waiting</dt>
          <dd>
            {lag.deliver.due.toLocaleString()} due · {seconds(lag.deliver.oldest_due_seconds)}
          </dd>
        </div>
      </dl>
      {lag.pipeline.partitions.length > 1 ? (
        <p className="muted small">
          Per log partition:{" "}
          {lag.pipeline.partitions.map((p) => `#${p.partition}: ${p.lag.toLocaleString()}`).join(" · ")}
        </p>
      ) : null}
    </Card>
  );
}

export function ViolationsCard({ violations }: { violations: Overview["violations"] }) {
  const most = Math.max(1, ...violations.counts);
  const total = violations.counts.reduce((a, b) => a + b, 0);
  return (
    <Card title="Violations (last 7 days)">
      <p>
        <span className="stat">{total.toLocaleString()}</span> violations of your tracking plans.{" "}
        {total > 0 ? <Link to="/protocols">See them in Protocols</Link> : null}
      </p>
      <ol className="bars" aria-label="Violations per day">
        {violations.days.map((day, i) => (
          <li key={day}>
            <span className="bar-label">
              {new Date(day).toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" })}
            </span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar" style={{ width: `${(100 * violations.counts[i]) / most}%` }} />
            </span>
            <span className="num">{violations.counts[i].toLocaleString()}</span>
          </li>
        ))}
      </ol>
    </Card>
  );
}

export function WaitingCard({ held, deadLetters }: { held: Overview["held"]; deadLetters: Overview["dead_letters"] }) {
  const byDestination = Object.entries(deadLetters.by_destination).filter(([, n]) => n > 0);
  return (
    <Card title="Needs attention">
      <ul className="attention">
        <li>
          <span className="stat">{held.count.toLocaleString()}</span> held messages{" "}
          {held.count > 0 ? (
            <Link to="/protocols?tab=held">Review held messages</Link>
          ) : (
            <span className="muted">(none: nothing failed a plan that holds)</span>
          )}
        </li>
        <li>
          <span className="stat">{deadLetters.count.toLocaleString()}</span> dead letters{" "}
          {byDestination.length === 0 ? <span className="muted">(none)</span> : null}
          {byDestination.length > 0 ? (
            <ul>
              {byDestination.map(([name, n]) => (
                <li key={name}>
                  <Link to={deadLettersLink(name)}>
                    {name}: {n.toLocaleString()}
                  </Link>
                </li>
              ))}
            </ul>
          ) : null}
        </li>
      </ul>
    </Card>
  );
}
