// A profile's traits with the source that set each, its identifiers, and what Engage computed.
import { Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { profilePath, shown, type Cursor, type ExternalId, type VerboseTrait } from "./profileApi";

interface Traits {
  traits: Record<string, VerboseTrait>;
  cursor: Cursor;
}

const sourceName = (id: string | null | undefined) =>
  id === "engage" ? "Engage" : id ? <Link to={`/sources/${encodeURIComponent(id)}`}>{id}</Link> : "—";

export function CustomTraits({ identifier }: { identifier: string }) {
  const found = useGet<Traits>(profilePath(identifier, "traits?class=custom_trait&verbose=true&limit=200"));
  const rows = Object.entries(found.data?.traits ?? {});
  return (
    <Card title="Traits">
      {found.loading && !found.data ? <Loading /> : null}
      <ErrorNote error={found.error} />
      {found.data && rows.length === 0 ? <Empty>No traits yet: they come from identify calls.</Empty> : null}
      {rows.length > 0 ? (
        <table aria-label="Traits">
          <thead>
            <tr>
              <th scope="col">Trait</th>
              <th scope="col">Value</th>
              <th scope="col">Set by source</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([name, trait]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{shown(trait.value)}</td>
                <td>{sourceName(trait.source_id)}</td>
                <td>
                  <Time at={trait.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {found.data?.cursor.has_more ? <p className="muted small">Showing the first 200 traits.</p> : null}
    </Card>
  );
}

/** Audiences the person is in, or their computed traits (Engage's values on the profile). */
export function EngageTraits({ identifier, kind }: { identifier: string; kind: "audience" | "computed_trait" }) {
  const found = useGet<Traits>(profilePath(identifier, `traits?class=${kind}&limit=200`));
  const rows = Object.entries(found.data?.traits ?? {});
  const audiences = kind === "audience";
  const shownRows = audiences ? rows.filter(([, v]) => v === (true as unknown)) : rows;
  return (
    <Card title={audiences ? "Audiences" : "Computed traits"}>
      {found.loading && !found.data ? <Loading /> : null}
      <ErrorNote error={found.error} />
      {found.data && shownRows.length === 0 ? (
        <Empty>
          {audiences ? "Not in any audience." : "No computed traits."}{" "}
          <Link to="/engage">Build one in Engage</Link>.
        </Empty>
      ) : null}
      {shownRows.length > 0 ? (
        audiences ? (
          <ul className="chips" aria-label="Audiences">
            {shownRows.map(([key]) => (
              <li key={key} className="badge good">
                {key}
              </li>
            ))}
          </ul>
        ) : (
          <table aria-label="Computed traits">
            <thead>
              <tr>
                <th scope="col">Computed trait</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {shownRows.map(([key, value]) => (
                <tr key={key}>
                  <th scope="row">{key}</th>
                  <td>{shown(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
    </Card>
  );
}

export function Identifiers({ identifier }: { identifier: string }) {
  const found = useGet<{ data: ExternalId[] }>(profilePath(identifier, "external_ids?limit=200"));
  return (
    <Card title="Identifiers">
      {found.loading && !found.data ? <Loading /> : null}
      <ErrorNote error={found.error} />
      {found.data && found.data.data.length === 0 ? <Empty>No identifiers.</Empty> : null}
      {found.data && found.data.data.length > 0 ? (
        <table aria-label="Identifiers">
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Value</th>
              <th scope="col">Source</th>
              <th scope="col">First seen</th>
            </tr>
          </thead>
          <tbody>
            {found.data.data.map((id) => (
              <tr key={`${id.type}:${id.id}`}>
                <td>{id.type}</td>
                <td className="mono">{id.id}</td>
                <td>{sourceName(id.source_id)}</td>
                <td>
                  <Time at={id.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}
