// A profile's events, newest first, a page at a time; each opens its message trace.
import { useCallback, useEffect, useState } from "react";
import { ApiError, get } from "../../api";
import { Card, Empty, ErrorNote, Json, Loading, Time } from "../ui";
import { Link } from "../../router";
import { profilePath, type Cursor, type ProfileEvent } from "./profileApi";

const PAGE = 20;

function title(event: ProfileEvent): string {
  if (event.type === "track") return event.event ?? "track";
  if (event.type === "page" || event.type === "screen") return `${event.type} ${event.name ?? ""}`.trim();
  return event.type;
}

export function ProfileEvents({ identifier }: { identifier: string }) {
  const [events, setEvents] = useState<ProfileEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(
    async (after: string | null) => {
      setBusy(true);
      try {
        const cursor = after ? `&next=${encodeURIComponent(after)}` : "";
        const page = await get<{ data: ProfileEvent[]; cursor: Cursor }>(
          profilePath(identifier, `events?limit=${PAGE}${cursor}`),
        );
        setEvents((before) => (after ? [...before, ...page.data] : page.data));
        setNext(page.cursor.has_more ? page.cursor.next : null);
        setError(null);
      } catch (failed) {
        setError(failed instanceof ApiError ? failed : String(failed));
      } finally {
        setBusy(false);
      }
    },
    [identifier],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <Card title="Events">
      <ErrorNote error={error} />
      {busy && events.length === 0 ? <Loading /> : null}
      {!busy && !error && events.length === 0 ? <Empty>No events for this person yet.</Empty> : null}
      {events.length > 0 ? (
        <ol className="timeline" aria-label="Events, newest first">
          {events.map((event) => (
            <li key={event.message_id}>
              <details>
                <summary>
                  <span className="timeline-name">{title(event)}</span>{" "}
                  <span className="muted small">
                    {event.type} · <Time at={event.timestamp} /> · {event.source_id}
                  </span>
                </summary>
                <p className="small">
                  <Link to={`/messages/${encodeURIComponent(event.message_id)}`}>Trace this message</Link>
                </p>
                <Json value={event.properties ?? event.traits ?? {}} />
              </details>
            </li>
          ))}
        </ol>
      ) : null}
      {next ? (
        <div>
          <button type="button" className="button secondary" disabled={busy} onClick={() => void load(next)}>
            {busy ? "Loading…" : "Older events"}
          </button>
        </div>
      ) : null}
    </Card>
  );
}
