// Violations: counts per source, event and rule, a chart of the last 24 hours, and the list
// (filtered by a click on a count) with each message linked to its trace.
import { useState } from "react";
import { query } from "../../api";
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { Card, Empty, ErrorNote, Loading, Time } from "../ui";

interface Count {
  source_id: string;
  event_name: string | null;
  rule: string;
  count: number;
  last_seen: string;
}

interface Violation {
  id: number;
  source_id: string;
  message_id: string | null;
  message_type: string | null;
  event_name: string | null;
  path: string;
  rule: string;
  expected: string;
  actual: string;
  recorded_at: string;
}

export function Violations() {
  const [filter, setFilter] = useState<{ source?: string; event?: string; rule?: string }>({});
  const summary = useGet<{ data: Count[] }>("/api/v1/violations/summary", 15);
  const recent = useGet<{ data: Violation[] }>("/api/v1/violations?limit=1000", 15);
  const list = useGet<{ data: Violation[] }>("/api/v1/violations" + query({ ...filter, limit: 200 }), 15);
  const sources = useGet<{ data: { id: string; name: string }[] }>("/api/v1/sources");
  const sourceName = (id: string) => sources.data?.data.find((s) => s.id === id)?.name ?? id;
  const filtered = Object.values(filter).some(Boolean);

  return (
    <>
      <Card title="Violations over the last 24 hours">
        {recent.data ? <HourlyBars rows={recent.data.data} /> : <Loading />}
      </Card>
      <Card title="Violations by event and rule">
        <ErrorNote error={summary.error} />
        {summary.data && summary.data.data.length === 0 ? <Empty>No violations: every event matched its plan.</Empty> : null}
        {summary.data && summary.data.data.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Event</th>
                <th scope="col">Rule</th>
                <th scope="col">Count</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {summary.data.data.map((row) => (
                <tr key={`${row.source_id}/${row.event_name}/${row.rule}`}>
                  <td>{sourceName(row.source_id)}</td>
                  <td>{row.event_name ?? <span className="muted">(no event name)</span>}</td>
                  <td>
                    <code>{row.rule}</code>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="linkish"
                      aria-label={`Show the ${row.count} ${row.rule} violations of ${row.event_name ?? "messages"}`}
                      onClick={() => setFilter({ source: row.source_id, event: row.event_name ?? undefined, rule: row.rule })}
                    >
                      {row.count}
                    </button>
                  </td>
                  <td>
                    <Time at={row.last_seen} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Card>
      <Card
        title={filtered ? `Violations: ${[filter.event, filter.rule].filter(Boolean).join(", ")}` : "Latest violations"}
        actions={
          filtered ? (
            <button type="button" className="button secondary" onClick={() => setFilter({})}>
              Show all
            </button>
          ) : null
        }
      >
        <ErrorNote error={list.error} />
        {list.data && list.data.data.length === 0 ? <Empty>None recorded.</Empty> : null}
        {list.data && list.data.data.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Message</th>
                <th scope="col">Event</th>
                <th scope="col">Field</th>
                <th scope="col">Rule</th>
                <th scope="col">Expected</th>
                <th scope="col">Actual</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((v) => (
                <tr key={v.id}>
                  <td>
                    <Time at={v.recorded_at} />
                  </td>
                  <td>
                    {v.message_id ? (
                      <Link to={`/messages/${encodeURIComponent(v.message_id)}`} className="mono">
                        {v.message_id}
                      </Link>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>{v.event_name ?? v.message_type}</td>
                  <td>
                    <code>{v.path || "(message)"}</code>
                  </td>
                  <td>
                    <code>{v.rule}</code>
                  </td>
                  <td>{v.expected}</td>
                  <td>{v.actual}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Card>
    </>
  );
}

function HourlyBars({ rows }: { rows: Violation[] }) {
  const hour = 3600_000;
  const now = Date.now();
  const counts = Array.from({ length: 24 }, () => 0);
  for (const row of rows) {
    const ago = Math.floor((now - new Date(row.recorded_at).getTime()) / hour);
    if (ago >= 0 && ago < 24) counts[23 - ago]++;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const top = Math.max(1, ...counts);
  return (
    <>
      <div className="bars" role="img" aria-label={`${total} violations in the last 24 hours, ${counts[23]} in the last hour`}>
        {counts.map((count, i) => (
          <div
            key={i}
            className="bar"
            title={`${23 - i} h ago: ${count}`}
            style={{ height: `${(count / top) * 100}%` }}
          />
        ))}
      </div>
      <p className="muted small">
        {total} in the last 24 hours (one bar per hour, latest on the right{rows.length >= 1000 ? "; from the latest 1,000" : ""}).
      </p>
    </>
  );
}
