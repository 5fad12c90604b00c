// The live list: newest first, one row per message, a button per row to look at it.
import { Time } from "../ui";
import { keyOf, type LiveMessage } from "./liveStream";

/** What a person calls the message: the event of a track, the name of a page or screen. */
export function titleOf(m: LiveMessage): string {
  if (m.type === "track" && m.event) return m.event;
  if ((m.type === "page" || m.type === "screen") && m.name) return m.name;
  return m.type ?? "message";
}

export function whoOf(m: LiveMessage): string {
  if (m.userId !== undefined && m.userId !== null && m.userId !== "") return `user ${m.userId}`;
  if (m.anonymousId !== undefined && m.anonymousId !== null) return `anonymous ${m.anonymousId}`;
  return "—";
}

export function MessageTable({
  messages,
  sourceNames,
  selected,
  onSelect,
}: {
  messages: LiveMessage[];
  sourceNames: Map<string, string>;
  selected: string | null;
  onSelect: (message: LiveMessage) => void;
}) {
  return (
    <table className="live-table" aria-label="Messages, newest first">
      <thead>
        <tr>
          <th scope="col">Message</th>
          <th scope="col">Type</th>
          <th scope="col">Who</th>
          <th scope="col">Source</th>
          <th scope="col">Received</th>
        </tr>
      </thead>
      <tbody>
        {messages.map((m) => {
          const key = keyOf(m);
          return (
            <tr key={key} className={key === selected ? "selected" : undefined}>
              <td>
                <button
                  type="button"
                  className="link-button"
                  aria-pressed={key === selected}
                  onClick={() => onSelect(m)}
                >
                  {titleOf(m)}
                </button>
              </td>
              <td>{m.type}</td>
              <td className="mono">{whoOf(m)}</td>
              <td>{sourceNames.get(m.source_id) ?? m.source_id}</td>
              <td>
                <Time at={m.receivedAt ?? m.timestamp} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
