// A destination's subscriptions: the list (action, trigger, mapping) and the editor.
import { useState } from "react";
import { del } from "../../api";
import { Can } from "../../session";
import { ActionButton, Badge, Card, Empty, Json } from "../ui";
import { SubscriptionEditor } from "./SubscriptionEditor";
import type { CatalogEntry, Resource, SubscriptionDocument } from "./types";

export function Subscriptions({
  name,
  entry,
  subscriptions,
  reload,
}: {
  name: string;
  entry: CatalogEntry;
  subscriptions: Resource<SubscriptionDocument>[];
  reload: () => void;
}) {
  // null: no editor open; "": a new subscription; otherwise the name being edited.
  const [editing, setEditing] = useState<string | null>(null);
  const existing = subscriptions.find((s) => s.name === editing);
  return (
    <>
      <Card
        title="Subscriptions"
        actions={
          <Can permission="destinations:write">
            {editing === null ? (
              <button type="button" className="button primary" onClick={() => setEditing("")}>
                Add subscription
              </button>
            ) : null}
          </Can>
        }
      >
        {subscriptions.length === 0 ? (
          <Empty>No subscriptions yet: a subscription says which events go to which action, and how they are mapped.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Action</th>
                <th scope="col">Trigger</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {subscriptions.map((s) => (
                <tr key={s.name}>
                  <td>{s.name}</td>
                  <td>{entry.actions[s.document.action]?.title ?? s.document.action}</td>
                  <td>
                    <code>{s.document.trigger}</code>
                    <details>
                      <summary>Mapping</summary>
                      <Json value={s.document.mapping} />
                    </details>
                  </td>
                  <td>{s.document.enabled ? <Badge tone="good">enabled</Badge> : <Badge tone="warn">disabled</Badge>}</td>
                  <td>
                    <Can permission="destinations:write">
                      <div className="row">
                        <button
                          type="button"
                          className="button secondary"
                          aria-label={`Edit ${s.name}`}
                          onClick={() => setEditing(s.name)}
                        >
                          Edit
                        </button>
                        <ActionButton
                          kind="danger"
                          aria-label={`Delete ${s.name}`}
                          confirm={`Delete the subscription ${s.name}? Events stop going to ${name} through it.`}
                          action={async () => {
                            await del(`/api/v1/subscriptions/${encodeURIComponent(s.name)}`);
                            reload();
                          }}
                        >
                          Delete
                        </ActionButton>
                      </div>
                    </Can>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {editing !== null ? (
        <Card title={existing ? `Edit ${existing.name}` : "New subscription"}>
          <SubscriptionEditor
            key={editing}
            destination={name}
            entry={entry}
            existing={existing}
            onCancel={() => setEditing(null)}
            onSaved={() => {
              setEditing(null);
              reload();
            }}
          />
        </Card>
      ) : null}
    </>
  );
}
