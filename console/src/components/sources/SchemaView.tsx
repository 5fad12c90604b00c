// The events and properties a source sent, with volumes, filterable by name.
import { useMemo, useState } from "react";
import { useGet } from "../../hooks";
import { Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { sourcePath, type SchemaEvent, type SourceSchema } from "./types";

const WINDOWS = [1, 7, 30, 90] as const;

function title(event: SchemaEvent): string {
  if (event.type === "track") return event.event ?? "(no name)";
  if (event.event) return `${event.type}: ${event.event}`;
  return event.type;
}

export function SchemaView({ sourceId }: { sourceId: string }) {
  const [days, setDays] = useState<number>(7);
  const [filter, setFilter] = useState("");
  const { data, error, loading } = useGet<{ data: SourceSchema }>(`${sourcePath(sourceId)}/schema?days=${days}`, 30);
  const wanted = filter.trim().toLowerCase();
  const events = useMemo(() => {
    const all = data?.data.events ?? [];
    if (!wanted) return all;
    return all.filter(
      (e) => title(e).toLowerCase().includes(wanted) || e.properties.some((p) => p.path.toLowerCase().includes(wanted)),
    );
  }, [data, wanted]);
  const traits = (data?.data.traits ?? []).filter((t) => !wanted || t.path.toLowerCase().includes(wanted));
  return (
    <Card title="Schema">
      <p className="muted small">The events this source sent and the properties they carried, with how many of each.</p>
      <div className="row">
        <label>
          Filter events and properties
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="e.g. Order" />
        </label>
        <label>
          Period
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {WINDOWS.map((d) => (
              <option key={d} value={d}>
                Last {d === 1 ? "day" : `${d} days`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {data === undefined ? (
        loading ? <Loading what="Reading the schema" /> : null
      ) : data.data.events.length === 0 ? (
        <Empty>No events from this source in this period yet. Send one with a snippet above.</Empty>
      ) : events.length === 0 && traits.length === 0 ? (
        <Empty>Nothing matches “{filter}”.</Empty>
      ) : (
        <>
          <table className="schema">
            <caption className="sources-vh">Events and their properties</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Type</th>
                <th scope="col" className="num">
                  Count
                </th>
                <th scope="col">Last seen</th>
                <th scope="col">Properties (count)</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={`${e.type}:${e.event ?? ""}`}>
                  <th scope="row">{title(e)}</th>
                  <td>{e.type}</td>
                  <td className="num">{e.count.toLocaleString()}</td>
                  <td>
                    <Time at={e.last_seen} />
                  </td>
                  <td>
                    {e.type === "identify" || e.type === "group" ? (
                      <span className="muted">traits: below</span>
                    ) : e.properties.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      <ul className="paths">
                        {e.properties.map((p) => (
                          <li key={p.path}>
                            <code>{p.path}</code> <span className="muted">({p.count.toLocaleString()})</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {traits.length > 0 ? (
            <>
              <h3 className="schema-traits">Traits (identify and group)</h3>
              <ul className="paths">
                {traits.map((t) => (
                  <li key={t.path}>
                    <code>{t.path}</code> <span className="muted">({t.count.toLocaleString()})</span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </>
      )}
    </Card>
  );
}
