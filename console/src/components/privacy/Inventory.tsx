// The data inventory: every field path seen per source with its classification (never a value).
import { useState } from "react";
import { query } from "../../api";
import { useGet } from "../../hooks";
import { Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";

interface Entry {
  source_id: string;
  path: string;
  classification: "green" | "yellow" | "red";
  kind: string | null;
  first_seen: string;
  last_seen: string;
  count: number;
}

export const TONE = { red: "bad", yellow: "warn", green: "good" } as const;

export function Inventory() {
  const [source, setSource] = useState("");
  const [level, setLevel] = useState("");
  const sources = useGet<{ data: { id: string; name: string }[] }>("/api/v1/sources");
  const found = useGet<{ data: Entry[] }>("/api/v1/inventory" + query({ source }), 30);
  const name = (id: string) => sources.data?.data.find((s) => s.id === id)?.name ?? id;
  const rows = (found.data?.data ?? []).filter((e) => !level || e.classification === level);
  const counts = { red: 0, yellow: 0, green: 0 };
  for (const e of found.data?.data ?? []) counts[e.classification]++;
  return (
    <Card title="Data inventory">
      <p className="muted small">
        Every field Seamline has seen, per source, classified by the PII matchers: red must never leave unprotected, yellow
        is personal data, green is not personal. Values are never shown here.
      </p>
      <div className="row">
        <label>
          Source
          <select value={source} onChange={(e) => setSource(e.target.value)}>
            <option value="">Every source</option>
            {(sources.data?.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Classification
          <select value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">All ({counts.red} red, {counts.yellow} yellow, {counts.green} green)</option>
            <option value="red">Red</option>
            <option value="yellow">Yellow</option>
            <option value="green">Green</option>
          </select>
        </label>
      </div>
      <ErrorNote error={found.error} />
      {found.loading && !found.data ? <Loading /> : null}
      {found.data && rows.length === 0 ? <Empty>No fields seen yet: send some events to a source.</Empty> : null}
      {rows.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Source</th>
              <th scope="col">Field</th>
              <th scope="col">Classification</th>
              <th scope="col">Detected as</th>
              <th scope="col">Seen in</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={`${e.source_id}/${e.path}`}>
                <td>{name(e.source_id)}</td>
                <td>
                  <code>{e.path}</code>
                </td>
                <td>
                  <Badge tone={TONE[e.classification]}>{e.classification}</Badge>
                </td>
                <td>{e.kind ?? <span className="muted">—</span>}</td>
                <td>{e.count} sampled messages</td>
                <td>
                  <Time at={e.last_seen} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}
