// Message trace: what happened to one message at every stage, from accepted to delivered.
import { useEffect, useRef, useState } from "react";
import { ArrivalStages } from "../components/trace/ArrivalTimeline";
import { DeliveryStages } from "../components/trace/Delivery";
import { TraceSearch } from "../components/trace/TraceSearch";
import type { Trace as TraceAnswer } from "../components/trace/types";
import "../components/trace/trace.css";
import { Card, ErrorNote, Loading, Page } from "../components/ui";
import { useGet } from "../hooks";
import { JsonView } from "../components/trace/JsonView";
import type { PageProps } from "../pages";
import { Link } from "../router";

const AGAIN_SECONDS = 3;
const NEW_MESSAGE_SECONDS = 60; // a message just sent may still be on its way through the pipeline

export default function Trace({ params }: PageProps) {
  const id = params.id ?? "";
  const [refresh, setRefresh] = useState(0);
  const opened = useRef(Date.now());
  const found = useGet<TraceAnswer>(id ? `/api/v1/messages/${encodeURIComponent(id)}` : null, refresh);
  useEffect(() => {
    // Look again while something is still to come: a trace not written yet, a delivery under way.
    const young = Date.now() - opened.current < NEW_MESSAGE_SECONDS * 1000;
    const waiting = found.error ? found.error.status === 404 && young : found.data ? inFlight(found.data) : false;
    setRefresh(waiting ? AGAIN_SECONDS : 0);
  }, [found.data, found.error]);
  return (
    <Page title="Message trace">
      <TraceSearch key={id} current={id} />
      <p className="muted">
        Message <span className="mono">{id}</span> · <Link to="/debugger">Back to the live debugger</Link>
      </p>
      {found.loading && !found.data ? <Loading what="Reading the trace" /> : null}
      {found.error ? (
        found.error.status === 404 ? (
          <p className="error" role="alert">
            No trace for this message (traces are kept {retentionOf(found.error.details)} hours). Check the ID, or
            find the message in the live debugger.
            {refresh ? " A message sent just now may still be on its way: this page looks again every few seconds." : ""}
          </p>
        ) : (
          <ErrorNote error={found.error} />
        )
      ) : null}
      {found.data && !found.error ? <TraceView trace={found.data} /> : null}
    </Page>
  );
}

function TraceView({ trace }: { trace: TraceAnswer }) {
  const arrivals = trace.arrivals;
  // Deliveries belong to the arrival that reached the subscriptions (not a duplicate after it).
  const routed = arrivals.findIndex((a) => a.subscriptions !== undefined);
  const deliveredIn = routed >= 0 ? routed : arrivals.length - 1;
  return (
    <>
      {arrivals.map((arrival, n) => (
        <Card
          key={`${arrival.accepted.partition}:${arrival.accepted.offset}:${arrival.accepted.index}`}
          title={
            arrivals.length === 1
              ? "What happened"
              : `Arrival ${n + 1} of ${arrivals.length}${arrival.dedup.duplicateOf ? " (duplicate)" : ""}`
          }
        >
          {arrival.stopped ? (
            <p>
              <strong>Went no further:</strong> {arrival.stopped}
            </p>
          ) : null}
          <ol className="timeline" aria-label={`Stages of arrival ${n + 1}`}>
            <ArrivalStages arrival={arrival} />
            {n === deliveredIn ? (
              <DeliveryStages attempts={trace.deliveries} deadLetters={trace.deadLetters} />
            ) : null}
          </ol>
        </Card>
      ))}
      {arrivals.length === 0 ? (
        <Card title="What happened">
          <ol className="timeline" aria-label="Stages">
            <DeliveryStages attempts={trace.deliveries} deadLetters={trace.deadLetters} />
          </ol>
        </Card>
      ) : null}
      <Card title="The message as received">
        {trace.message ? <JsonView value={trace.message} label="The message as received, as JSON" /> : <p className="muted">The message's body is no longer kept.</p>}
      </Card>
    </>
  );
}

/** The trace retention the server names in its 404, else the default. */
function retentionOf(details: unknown): number {
  const hours = (details as { retentionHours?: unknown } | undefined)?.retentionHours;
  return typeof hours === "number" ? hours : 72;
}

/** Whether a delivery the trace expects has no final outcome yet (none tried, or retrying). */
function inFlight(trace: TraceAnswer): boolean {
  const final = new Set(
    trace.deliveries.filter((a) => a.outcome !== "retry").map((a) => `${a.destination}/${a.subscription}`),
  );
  for (const dead of trace.deadLetters) final.add(`${dead.destination}/${dead.subscription}`);
  return trace.arrivals.some((arrival) =>
    (arrival.subscriptions ?? []).some(
      (s) => s.outcome === "queued" && !final.has(`${s.destination}/${s.subscription}`),
    ),
  );
}
