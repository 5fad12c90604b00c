// Dead letters (deliveries that failed for good, with the request and response that show why),
// replaying them, and replaying the stored events of a time range.
import { useState, type FormEvent } from "react";
import { post } from "../../api";
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { Can } from "../../session";
import { ActionButton, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import type { DeadLetter } from "./types";

export function DeadLetters({ name }: { name: string }) {
  const path = `/api/v1/destinations/${encodeURIComponent(name)}/dead-letters`;
  const letters = useGet<{ data: DeadLetter[] }>(path);
  const [queued, setQueued] = useState<number | null>(null);
  const found = letters.data?.data ?? [];
  return (
    <Card
      title="Dead letters"
      actions={
        found.length > 0 ? (
          <Can permission="destinations:write">
            <ActionButton
              action={async () => {
                const answer = await post<{ queued: number }>(`${path}/replay`);
                setQueued(answer.queued);
                letters.reload();
              }}
            >
              Replay all dead letters
            </ActionButton>
          </Can>
        ) : null
      }
    >
      {queued !== null ? <p role="status">Queued {queued} dead letters for delivery again.</p> : null}
      <ErrorNote error={letters.error} />
      {letters.data === undefined ? (
        <Loading />
      ) : found.length === 0 ? (
        <Empty>No dead letters: nothing has failed for good.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Failed</th>
              <th scope="col">Subscription</th>
              <th scope="col">Message</th>
              <th scope="col">Why</th>
              <th scope="col">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {found.map((letter) => (
              <tr key={letter.id}>
                <td>
                  <Time at={letter.failed_at} />
                </td>
                <td>{letter.subscription}</td>
                <td>
                  <Link to={`/messages/${encodeURIComponent(letter.message_id)}`}>{letter.message_id}</Link>
                </td>
                <td>
                  {letter.status !== null ? <strong>{letter.status} </strong> : null}
                  {letter.error}
                  {letter.request || letter.response ? (
                    <details>
                      <summary>Request and response</summary>
                      <pre className="json" tabIndex={0}>{`${letter.request ?? ""}\n\n${letter.response ?? ""}`}</pre>
                    </details>
                  ) : null}
                </td>
                <td>{letter.attempts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** `datetime-local` text (the browser's local time) as an ISO 8601 instant. */
function instant(local: string): string {
  return new Date(local).toISOString();
}

function localNow(offsetHours: number): string {
  const at = new Date(Date.now() + offsetHours * 3600_000);
  at.setSeconds(0, 0);
  const shifted = new Date(at.getTime() - at.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

export function ReplayRange({ name }: { name: string }) {
  const [from, setFrom] = useState(() => localNow(-24));
  const [to, setTo] = useState(() => localNow(0));
  const [queued, setQueued] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setQueued(null);
    try {
      const body = { from: instant(from), to: instant(to) };
      const answer = await post<{ queued: number }>(`/api/v1/destinations/${encodeURIComponent(name)}/replay`, body);
      setQueued(answer.queued);
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Replay a time range">
      <p className="muted small">
        Sends the stored events received in this range through today's filters, triggers and mappings again. The tool
        receives them again.
      </p>
      <form className="row" onSubmit={submit}>
        <label>
          From
          <input type="datetime-local" name="replay-from" required value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="datetime-local" name="replay-to" required value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Replaying…" : "Replay"}
        </button>
      </form>
      <ErrorNote error={error} />
      {queued !== null ? <p role="status">Queued {queued} events for delivery.</p> : null}
    </Card>
  );
}
