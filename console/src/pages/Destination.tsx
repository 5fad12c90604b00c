import { useState } from "react";
import { put } from "../api";
import { DeadLetters, ReplayRange } from "../components/destinations/DeadLetters";
import { Funnel } from "../components/destinations/Funnel";
import { SettingsForm } from "../components/destinations/SettingsForm";
import { Subscriptions } from "../components/destinations/Subscriptions";
import { Tester } from "../components/destinations/Tester";
import type { CatalogEntry, InstanceDocument, Resource, SubscriptionDocument } from "../components/destinations/types";
import { ActionButton, Badge, Card, ErrorNote, Loading, Page, Tabs } from "../components/ui";
import "../components/destinations/destinations.css";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link } from "../router";
import { Can, useCan } from "../session";

type Tab = "overview" | "subscriptions" | "settings" | "tester" | "dead";

export default function Destination({ params }: PageProps) {
  const name = params.name ?? "";
  const path = `/api/v1/destinations/${encodeURIComponent(name)}`;
  const instance = useGet<Resource<InstanceDocument>>(path);
  const type = instance.data?.document.type;
  const entry = useGet<CatalogEntry>(type ? `/api/v1/catalog/${encodeURIComponent(type)}` : null);
  const subscriptions = useGet<{ data: Resource<SubscriptionDocument>[] }>("/api/v1/subscriptions");
  const canWrite = useCan("destinations:write");
  // `?tab=dead` (the overview's dead-letter links) opens that tab.
  const [tab, setTab] = useState<Tab>(() => {
    const asked = new URLSearchParams(location.search).get("tab");
    const known: Tab[] = ["overview", "subscriptions", "settings", "tester", "dead"];
    return known.includes(asked as Tab) ? (asked as Tab) : "overview";
  });
  const mine = (subscriptions.data?.data ?? []).filter((s) => s.document.destination === name);

  if (instance.error || entry.error)
    return (
      <Page title={name}>
        <ErrorNote error={instance.error ?? entry.error} />
        <p>
          <Link to="/destinations">Back to destinations</Link>
        </p>
      </Page>
    );
  if (!instance.data || !entry.data)
    return (
      <Page title={name}>
        <Loading />
      </Page>
    );
  const document = instance.data.document;
  const tabs: { id: Tab; label: string }[] = [
    { id: "overview", label: "Delivery" },
    { id: "subscriptions", label: `Subscriptions (${mine.length})` },
    { id: "settings", label: "Settings" },
    ...(canWrite ? [{ id: "tester" as Tab, label: "Event tester" }] : []),
    { id: "dead", label: "Dead letters and replay" },
  ];
  return (
    <Page
      title={name}
      actions={
        <>
          {document.enabled ? <Badge tone="good">enabled</Badge> : <Badge tone="warn">disabled</Badge>}
          <Can permission="destinations:write">
            <ActionButton
              kind="secondary"
              action={async () => {
                // The stored document shows secrets as "[secret]", which keeps them.
                await put(path, { ...document, enabled: !document.enabled });
                instance.reload();
              }}
            >
              {document.enabled ? "Disable" : "Enable"}
            </ActionButton>
          </Can>
        </>
      }
    >
      <p className="muted">
        {entry.data.name} · <Link to="/destinations">All destinations</Link>
      </p>
      <Tabs label="Destination" tabs={tabs} current={tab} onChange={setTab} />
      {tab === "overview" ? <Funnel name={name} /> : null}
      {tab === "subscriptions" ? (
        <Subscriptions name={name} entry={entry.data} subscriptions={mine} reload={subscriptions.reload} />
      ) : null}
      {tab === "settings" ? (
        <Card title="Settings">
          {canWrite ? (
            <SettingsForm
              key={instance.data.version}
              entry={entry.data}
              stored={document.settings}
              idPrefix="edit"
              submitLabel="Save settings"
              onSubmit={async (settings) => {
                await put(path, { ...document, settings });
                instance.reload();
              }}
            />
          ) : (
            <ReadOnlySettings entry={entry.data} settings={document.settings} />
          )}
        </Card>
      ) : null}
      {tab === "tester" && document.enabled ? <Tester name={name} subscriptions={mine.map((s) => s.name)} /> : null}
      {tab === "tester" && !document.enabled ? <p className="muted">Enable the destination to test it.</p> : null}
      {tab === "dead" ? (
        <>
          <DeadLetters name={name} />
          <Can permission="destinations:write">{document.enabled ? <ReplayRange name={name} /> : null}</Can>
        </>
      ) : null}
    </Page>
  );
}

function ReadOnlySettings({ entry, settings }: { entry: CatalogEntry; settings: Record<string, unknown> }) {
  return (
    <table>
      <tbody>
        {Object.entries(entry.settings).map(([key, spec]) => (
          <tr key={key}>
            <th scope="row">{spec.label}</th>
            <td>{settings[key] === undefined ? <span className="muted">not set</span> : String(settings[key])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
