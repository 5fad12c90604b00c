// The live debugger's stream: an EventSource on /api/v1/live, kept out of React's state so a
// busy source never renders per message. Messages go into a capped list in a ref; a timer
// publishes the list (and the server's counters) at most every FLUSH_MS, and not while paused.
import { useCallback, useEffect, useRef, useState } from "react";
import { query } from "../../api";

/** A message as the stream sends it: the Spec message plus where it sits in the log. */
export interface LiveMessage {
  type?: string;
  event?: string;
  name?: string;
  userId?: string | number | null;
  anonymousId?: string | number | null;
  messageId?: string;
  receivedAt?: string;
  timestamp?: string;
  source_id: string;
  partition: number;
  offset: number;
  index: number;
  [field: string]: unknown;
}

export interface LiveStats {
  seen: number;
  shown: number;
  dropped: number;
}

export interface LiveFilters {
  source: string;
  type: string;
  event: string;
  id: string;
  rate: number; // at most this many messages a second are sent to the page (the server samples)
}

export type Connection = "connecting" | "live" | "reconnecting";

export const KEEP = 200; // messages kept in memory: the list never grows without bound
const FLUSH_MS = 250; // one render per quarter second at most, however fast messages come
const RETRY_MS = 2000; // after the server refused or closed the stream for good

export const keyOf = (m: LiveMessage) => `${m.partition}:${m.offset}:${m.index}`;

export function useLiveStream(filters: LiveFilters, paused: boolean) {
  const [messages, setMessages] = useState<LiveMessage[]>([]);
  const [stats, setStats] = useState<LiveStats>({ seen: 0, shown: 0, dropped: 0 });
  // The connection's state is that of one stream: a new filter's stream starts "connecting" at
  // once, not "live" on the strength of the one it replaces.
  const { source, type, event, id, rate } = filters;
  const streamKey = JSON.stringify({ source, type, event, id, rate });
  const [state, setState] = useState<{ key: string; connection: Connection }>({ key: "", connection: "connecting" });
  const connection: Connection = state.key === streamKey ? state.connection : "connecting";
  const kept = useRef<LiveMessage[]>([]); // newest first
  const latestStats = useRef<LiveStats>({ seen: 0, shown: 0, dropped: 0 });
  const dirty = useRef(false);
  const pausedRef = useRef(paused);

  const publish = useCallback(() => {
    setStats(latestStats.current);
    if (!pausedRef.current && dirty.current) {
      dirty.current = false;
      setMessages(kept.current.slice());
    }
  }, []);

  useEffect(() => {
    pausedRef.current = paused;
    if (!paused) publish(); // resuming shows the newest at once
  }, [paused, publish]);

  useEffect(() => {
    const timer = setInterval(publish, FLUSH_MS);
    return () => clearInterval(timer);
  }, [publish]);

  useEffect(() => {
    const key = JSON.stringify({ source, type, event, id, rate });
    const setConnection = (connection: Connection) => setState({ key, connection });
    // A new filter is a new stream: what the old one showed does not match it.
    kept.current = [];
    dirty.current = true;
    latestStats.current = { seen: 0, shown: 0, dropped: 0 };
    const url = "/api/v1/live" + query({ source: source || undefined, type, event, id, rate });
    let stream: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let base: LiveStats = { seen: 0, shown: 0, dropped: 0 };
    let last: LiveStats = base;
    const open = () => {
      setConnection(stream === null ? "connecting" : "reconnecting");
      const opened = new EventSource(url, { withCredentials: true });
      stream = opened;
      opened.onopen = () => {
        // A reconnected stream counts from zero again: keep counting on from where we were.
        base = { seen: last.seen, shown: last.shown, dropped: last.dropped };
      };
      opened.addEventListener("message", (e: MessageEvent<string>) => {
        const message = JSON.parse(e.data) as LiveMessage;
        kept.current.unshift(message);
        if (kept.current.length > KEEP) kept.current.length = KEEP;
        dirty.current = true;
      });
      opened.addEventListener("stats", (e: MessageEvent<string>) => {
        const now = JSON.parse(e.data) as LiveStats;
        last = { seen: base.seen + now.seen, shown: base.shown + now.shown, dropped: base.dropped + now.dropped };
        latestStats.current = last;
        // The first stats come once the server's readers stand at the log's end: from then
        // on, whatever is sent shows here.
        setConnection("live");
      });
      opened.onerror = () => {
        // The browser retries a dropped stream by itself; a refused one (401, 429, a server
        // that stopped) is closed, and we open it again a little later.
        if (opened.readyState === EventSource.CLOSED) {
          setConnection("reconnecting");
          retry = setTimeout(open, RETRY_MS);
        } else setConnection("reconnecting");
      };
    };
    open();
    return () => {
      clearTimeout(retry);
      stream?.close();
    };
  }, [source, type, event, id, rate]);

  const clear = useCallback(() => {
    kept.current = [];
    dirty.current = true;
    setMessages([]);
  }, []);

  return { messages, stats, connection, clear };
}
