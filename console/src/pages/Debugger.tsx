// Live debugger: the messages arriving now, as the server's sampled stream sends them.
import { useCallback, useMemo, useState } from "react";
import { LiveFilterForm } from "../components/debugger/LiveFilterForm";
import { MessageTable, titleOf } from "../components/debugger/MessageTable";
import { KEEP, keyOf, useLiveStream, type LiveFilters, type LiveMessage } from "../components/debugger/liveStream";
import "../components/debugger/debugger.css";
import { Badge, Card, Empty, ErrorNote, Page } from "../components/ui";
import { useGet } from "../hooks";
import { JsonView } from "../components/trace/JsonView";
import type { PageProps } from "../pages";
import { Link } from "../router";

interface Source {
  id: string;
  name: string;
}

export default function Debugger(_props: PageProps) {
  const sources = useGet<{ data: Source[] }>("/api/v1/sources");
  const [filters, setFilters] = useState<LiveFilters>({ source: "", type: "", event: "", id: "", rate: 20 });
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<LiveMessage | null>(null);
  const live = useLiveStream(filters, paused);
  const names = useMemo(() => new Map((sources.data?.data ?? []).map((s) => [s.id, s.name])), [sources.data]);
  const changeFilters = useCallback((next: LiveFilters) => {
    setFilters(next);
    setSelected(null);
  }, []);
  const filtered = filters.source || filters.type || filters.event || filters.id;

  return (
    <Page
      title="Live debugger"
      actions={
        <>
          <button type="button" className="button primary" onClick={() => setPaused((p) => !p)}>
            {paused ? "Resume" : "Pause"}
          </button>
          <button type="button" className="button secondary" onClick={live.clear}>
            Clear
          </button>
        </>
      }
    >
      <p className="muted">
        Messages as they reach Seamline, newest first. A busy source is sampled (at most {filters.rate} a second
        are shown); the counter says how many arrived.
      </p>
      <ErrorNote error={sources.error} />
      <LiveFilterForm sources={sources.data?.data ?? []} value={filters} onChange={changeFilters} />
      <div className="live-status" role="status" aria-live="polite" aria-atomic="true">
        <Badge tone={live.connection === "live" ? "good" : "warn"}>
          {live.connection === "live" ? "Live" : live.connection === "connecting" ? "Connecting…" : "Reconnecting…"}
        </Badge>
        {paused ? <Badge tone="warn">Paused</Badge> : null}
        <span data-testid="live-counter">
          seen {live.stats.seen} · shown {live.stats.shown}
        </span>
        <span className="muted small">
          (listing the last {Math.min(live.messages.length, KEEP)} of at most {KEEP})
        </span>
      </div>
      <div className="live-body">
        <Card title="Messages">
          {live.messages.length === 0 ? (
            <Empty>
              {filtered
                ? "No message matches these filters yet. Messages appear here as they arrive."
                : "Waiting for messages: send one from a website, an app or a server with this source's write key."}
            </Empty>
          ) : (
            <div className="live-list">
              <MessageTable
                messages={live.messages}
                sourceNames={names}
                selected={selected ? keyOf(selected) : null}
                onSelect={setSelected}
              />
            </div>
          )}
        </Card>
        <Card title={selected ? `Message: ${titleOf(selected)}` : "Message"}>
          {selected === null ? (
            <Empty>Pick a message in the list to see everything it carried.</Empty>
          ) : (
            <>
              {selected.messageId ? (
                <p>
                  <Link to={`/messages/${encodeURIComponent(selected.messageId)}`}>Trace</Link>{" "}
                  <span className="muted small">what happened to it at every stage</span>
                </p>
              ) : null}
              <p className="muted small">
                Log partition {selected.partition}, offset {selected.offset}
              </p>
              <JsonView value={bodyOf(selected)} label="The selected message as JSON" />
            </>
          )}
        </Card>
      </div>
    </Page>
  );
}

/** The message as sent, without where the stream found it in the log. */
function bodyOf(message: LiveMessage): Record<string, unknown> {
  const { source_id: _source, partition: _partition, offset: _offset, index: _index, ...body } = message;
  return body;
}
