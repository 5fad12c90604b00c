// Open another message's trace by its messageId.
import { useState } from "react";
import { navigate } from "../../router";

export function TraceSearch({ current }: { current: string }) {
  const [id, setId] = useState(current);
  return (
    <form
      className="trace-search"
      role="search"
      aria-label="Find a message"
      onSubmit={(e) => {
        e.preventDefault();
        const wanted = id.trim();
        if (wanted) navigate(`/messages/${encodeURIComponent(wanted)}`);
      }}
    >
      <label>
        Message ID
        <input name="messageId" value={id} onChange={(e) => setId(e.target.value)} placeholder="the messageId an SDK sent" />
      </label>
      <button type="submit" className="button secondary">
        Open trace
      </button>
    </form>
  );
}
