// The deliver role's side of a trace: each attempt, and the dead letters a failure left.
import { Time } from "../ui";
import { Link } from "../../router";
import { Stage } from "./Stage";
import type { Attempt, DeadLetter } from "./types";

const TONES: Record<string, "good" | "bad" | "warn"> = { delivered: "good", retry: "warn" };

export function DeliveryStages({ attempts, deadLetters }: { attempts: Attempt[]; deadLetters: DeadLetter[] }) {
  const delivered = attempts.filter((a) => a.outcome === "delivered").length;
  const failed = attempts.some((a) => a.outcome !== "delivered" && a.outcome !== "retry");
  return (
    <>
      <Stage
        title="Delivery"
        status={
          attempts.length === 0 ? "no attempt" : delivered ? "delivered" : failed ? "failed" : "retrying"
        }
        tone={attempts.length === 0 ? "neutral" : delivered ? "good" : failed ? "bad" : "warn"}
      >
        {attempts.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Destination</th>
                <th scope="col">Subscription</th>
                <th scope="col">Attempt</th>
                <th scope="col">Outcome</th>
                <th scope="col">HTTP status</th>
                <th scope="col">Error</th>
                <th scope="col">At</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={`${a.destination}/${a.subscription}/${a.attempt}`}>
                  <td>
                    <Link to={`/destinations/${encodeURIComponent(a.destination)}`}>{a.destination}</Link>
                  </td>
                  <td>{a.subscription}</td>
                  <td>{a.attempt}</td>
                  <td>
                    <span className={`badge ${TONES[a.outcome] ?? "bad"}`}>{a.outcome}</span>
                  </td>
                  <td>{a.status ?? "—"}</td>
                  <td>{a.error ?? "—"}</td>
                  <td>
                    <Time at={a.at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted small">Nothing was sent to a destination (none matched, or delivery has not started yet).</p>
        )}
      </Stage>
      <Stage
        title="Dead letters"
        status={deadLetters.length ? `${deadLetters.length} dead letter${deadLetters.length === 1 ? "" : "s"}` : "none"}
        tone={deadLetters.length ? "bad" : "good"}
      >
        {deadLetters.length ? (
          <ul>
            {deadLetters.map((d) => (
              <li key={d.id}>
                Dead letter {d.id} for{" "}
                <Link to={`/destinations/${encodeURIComponent(d.destination)}`}>{d.destination}</Link> ({d.subscription})
                after {d.attempts} attempts: {d.error ?? `status ${d.status ?? "?"}`}, <Time at={d.failedAt} />
                {d.replayedAt ? (
                  <>
                    {" "}
                    · replayed <Time at={d.replayedAt} />
                  </>
                ) : null}
              </li>
            ))}
          </ul>
        ) : null}
      </Stage>
    </>
  );
}
