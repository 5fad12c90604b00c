// The event tester: send one event through the subscriptions for real and show, for each,
// whether it triggered, the payload, and every request with the tool's response.
import { useState, type FormEvent } from "react";
import { post } from "../../api";
import { Badge, Card, Empty, ErrorNote, Json } from "../ui";
import type { Exchange, TestResult } from "./types";

const SAMPLE = {
  type: "track",
  event: "Order Completed",
  userId: "user-1",
  properties: { total: 42.5, currency: "EUR" },
};

export function Tester({ name, subscriptions }: { name: string; subscriptions: string[] }) {
  const [event, setEvent] = useState(JSON.stringify(SAMPLE, null, 2));
  const [only, setOnly] = useState("");
  const [results, setResults] = useState<TestResult[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(event);
    } catch {
      setError(new Error("The event is not valid JSON."));
      return;
    }
    setBusy(true);
    try {
      const body = { event: parsed, subscription: only || undefined };
      const answer = await post<{ data: TestResult[] }>(`/api/v1/destinations/${encodeURIComponent(name)}/test`, body);
      setResults(answer.data);
    } catch (failed) {
      setError(failed);
      setResults(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Event tester">
      <p className="muted small">
        Sends this event to the tool for real, through {only ? "one subscription" : "every enabled subscription"}, and
        shows each request and response. Nothing is queued or retried.
      </p>
      <form className="form" onSubmit={run}>
        <label>
          Test event (JSON)
          <textarea name="test-event" value={event} spellCheck={false} onChange={(e) => setEvent(e.target.value)} />
        </label>
        <label>
          Subscription
          <select value={only} onChange={(e) => setOnly(e.target.value)}>
            <option value="">All enabled subscriptions</option>
            {subscriptions.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <div className="row">
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? "Sending…" : "Send test event"}
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {results === null ? null : results.length === 0 ? (
        <Empty>This destination has no enabled subscription to test: add one first.</Empty>
      ) : (
        <div className="test-results">
          {results.map((result) => (
            <Result key={result.subscription} result={result} />
          ))}
        </div>
      )}
    </Card>
  );
}

function Result({ result }: { result: TestResult }) {
  let verdict = <Badge>not triggered</Badge>;
  if (result.filtered) verdict = <Badge tone="warn">filtered out: {result.filtered}</Badge>;
  else if (result.error && result.delivered === undefined) verdict = <Badge tone="bad">invalid payload</Badge>;
  else if (result.delivered === true) verdict = <Badge tone="good">delivered</Badge>;
  else if (result.delivered === false) verdict = <Badge tone="bad">not delivered</Badge>;
  return (
    <section className="test-result">
      <h3>
        {result.subscription} {verdict}
      </h3>
      {result.triggered === false ? <p className="muted">The event does not match this subscription's trigger.</p> : null}
      {result.error ? <p className="error">{result.error}</p> : null}
      {result.payload ? (
        <details>
          <summary>Mapped payload</summary>
          <Json value={result.payload} />
        </details>
      ) : null}
      {(result.requests ?? []).map((exchange, i) => (
        <ExchangeView key={i} exchange={exchange} />
      ))}
    </section>
  );
}

function pretty(text: string | null): string {
  if (text === null || text === "") return "(empty)";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function ExchangeView({ exchange }: { exchange: Exchange }) {
  const ok = exchange.status !== null && exchange.status >= 200 && exchange.status < 300;
  return (
    <div className="exchange grid">
      <div>
        <h4>Request</h4>
        <pre className="json" tabIndex={0}>
          {`${exchange.method} ${exchange.url}\n`}
          {Object.entries(exchange.headers)
            .map(([k, v]) => `${k}: ${v}`)
            .join("\n")}
          {"\n\n"}
          {pretty(exchange.body)}
        </pre>
      </div>
      <div>
        <h4>
          Response <Badge tone={ok ? "good" : "bad"}>{exchange.status ?? "no answer"}</Badge>
        </h4>
        <pre className="json" tabIndex={0}>
          {pretty(exchange.response)}
        </pre>
      </div>
    </div>
  );
}
