import { useState } from "react";
import { put } from "../api";
import { SettingsForm } from "../components/destinations/SettingsForm";
import type { CatalogEntry, InstanceDocument, Resource, SubscriptionDocument } from "../components/destinations/types";
import { Badge, Card, Empty, ErrorNote, Loading, Page } from "../components/ui";
import "../components/destinations/destinations.css";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link, navigate } from "../router";
import { Can } from "../session";

export default function Destinations(_props: PageProps) {
  const catalog = useGet<{ data: CatalogEntry[] }>("/api/v1/catalog");
  const instances = useGet<{ data: Resource<InstanceDocument>[] }>("/api/v1/destinations");
  const subscriptions = useGet<{ data: Resource<SubscriptionDocument>[] }>("/api/v1/subscriptions");
  const [adding, setAdding] = useState<CatalogEntry | null>(null);
  const [search, setSearch] = useState("");
  const entries = catalog.data?.data ?? [];
  const wanted = search.trim().toLowerCase();
  const shown = entries.filter(
    (e) => !wanted || `${e.name} ${e.slug} ${e.description}`.toLowerCase().includes(wanted),
  );
  const tools = new Map((catalog.data?.data ?? []).map((entry) => [entry.slug, entry]));
  const counted = new Map<string, number>();
  for (const s of subscriptions.data?.data ?? [])
    counted.set(s.document.destination, (counted.get(s.document.destination) ?? 0) + 1);

  return (
    <Page title="Destinations">
      <Card title="Your destinations">
        <ErrorNote error={instances.error} />
        {instances.data === undefined ? (
          <Loading />
        ) : instances.data.data.length === 0 ? (
          <Empty>No destinations yet — add one from the catalog below.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Tool</th>
                <th scope="col">Status</th>
                <th scope="col">Subscriptions</th>
                <th scope="col">Changed</th>
              </tr>
            </thead>
            <tbody>
              {instances.data.data.map((instance) => (
                <tr key={instance.name}>
                  <td>
                    <Link to={`/destinations/${encodeURIComponent(instance.name)}`}>{instance.name}</Link>
                  </td>
                  <td>{tools.get(instance.document.type)?.name ?? instance.document.type}</td>
                  <td>
                    {instance.document.enabled ? <Badge tone="good">enabled</Badge> : <Badge tone="warn">disabled</Badge>}
                  </td>
                  <td>{counted.get(instance.name) ?? 0}</td>
                  <td>{new Date(instance.updated_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {adding ? <AddDestination entry={adding} onCancel={() => setAdding(null)} /> : null}
      <Card title="Catalog">
        <ErrorNote error={catalog.error} />
        {catalog.data === undefined ? (
          <Loading />
        ) : (
          <>
            <label htmlFor="catalog-search">
              Search the catalog
              <input
                id="catalog-search"
                type="search"
                autoComplete="off"
                placeholder="Snowflake, email, ads…"
                value={search}
                onChange={(e) => setSearch(e.target.value)}
              />
            </label>
            <p className="muted small" aria-live="polite">
              {shown.length} of {entries.length} destinations
            </p>
            {shown.length === 0 ? <Empty>No destination matches “{search.trim()}”.</Empty> : null}
            <ul className="catalog">
              {shown.map((entry) => (
                <li key={entry.slug}>
                  <h3>{entry.name}</h3>
                  <p className="muted small">{entry.description}</p>
                  <p className="small">
                    Actions: {Object.values(entry.actions).map((a) => a.title).join(", ")}
                  </p>
                  <Can permission="destinations:write">
                    <div>
                      <button
                        type="button"
                        className="button secondary"
                        aria-label={`Add ${entry.name}`}
                        onClick={() => {
                          setAdding(entry);
                          window.scrollTo({ top: 0 });
                        }}
                      >
                        Add
                      </button>
                    </div>
                  </Can>
                </li>
              ))}
            </ul>
          </>
        )}
      </Card>
    </Page>
  );
}

function AddDestination({ entry, onCancel }: { entry: CatalogEntry; onCancel: () => void }) {
  const [name, setName] = useState("");
  return (
    <Card
      title={`Add ${entry.name}`}
      actions={
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      }
    >
      <p className="muted small">{entry.description}</p>
      <SettingsForm
        key={entry.slug}
        entry={entry}
        idPrefix="new"
        submitLabel="Save destination"
        onSubmit={async (settings) => {
          const clean = name.trim();
          if (!clean) throw new Error("Give the destination a name.");
          await put(`/api/v1/destinations/${encodeURIComponent(clean)}`, { type: entry.slug, settings, enabled: true });
          navigate(`/destinations/${encodeURIComponent(clean)}`);
        }}
      >
        <label htmlFor="new-destination-name">
          Name
          <input
            id="new-destination-name"
            name="destination-name"
            type="text"
            required
            autoComplete="off"
            placeholder={`${entry.slug}-prod`}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
      </SettingsForm>
    </Card>
  );
}
