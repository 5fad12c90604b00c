// The debugger's filters. Typed filters apply after a pause in typing, so each keystroke does
// not reopen the stream.
import { useEffect, useState } from "react";
import type { LiveFilters } from "./liveStream";

const TYPES = ["track", "identify", "page", "screen", "group", "alias"] as const;
const TYPING_MS = 400;
export const RATES = [5, 20, 100] as const; // the server's sampling: 20 by default, 100 at most

export function LiveFilterForm({
  sources,
  value,
  onChange,
}: {
  sources: { id: string; name: string }[];
  value: LiveFilters;
  onChange: (filters: LiveFilters) => void;
}) {
  const [event, setEvent] = useState(value.event);
  const [id, setId] = useState(value.id);
  useEffect(() => {
    if (event.trim() === value.event && id.trim() === value.id) return;
    const timer = setTimeout(() => onChange({ ...value, event: event.trim(), id: id.trim() }), TYPING_MS);
    return () => clearTimeout(timer);
  }, [event, id, value, onChange]);
  return (
    <form className="live-filters" role="search" aria-label="Filter messages" onSubmit={(e) => e.preventDefault()}>
      <label>
        Source
        <select value={value.source} onChange={(e) => onChange({ ...value, source: e.target.value })}>
          <option value="">All sources</option>
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <select value={value.type} onChange={(e) => onChange({ ...value, type: e.target.value })}>
          <option value="">All types</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label>
        Event name
        <input
          name="event"
          value={event}
          placeholder="e.g. Order Completed"
          onChange={(e) => setEvent(e.target.value)}
        />
      </label>
      <label>
        User, anonymous or message ID
        <input name="id" value={id} placeholder="exact ID" onChange={(e) => setId(e.target.value)} />
      </label>
      <label>
        Show at most
        <select value={value.rate} onChange={(e) => onChange({ ...value, rate: Number(e.target.value) })}>
          {RATES.map((r) => (
            <option key={r} value={r}>
              {r} a second
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}
