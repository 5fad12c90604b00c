// A list of one kind of workspace resource with a form to create, edit and delete them; the
// fields come from the caller. Edit controls only for a user with `writePermission`.
import { useState, type ReactNode } from "react";
import { del, put } from "../../api";
import { useGet } from "../../hooks";
import { useCan } from "../../session";
import { ActionButton, Card, Empty, ErrorNote, Loading } from "../ui";

export interface Column<T> {
  label: string;
  show: (doc: T) => ReactNode;
}

export function ResourceSection<T>({
  segment,
  title,
  noun,
  intro,
  empty,
  columns,
  blank,
  fields,
  writePermission = "privacy:write",
}: {
  segment: string;
  title: string;
  noun: string;
  intro: ReactNode;
  empty: string;
  columns: Column<T>[];
  blank: T;
  fields: (props: { value: T; onChange: (next: T) => void; name: string }) => ReactNode;
  writePermission?: string;
}) {
  const found = useGet<{ data: { name: string; document: T }[] }>(`/api/v1/${segment}`);
  const canWrite = useCan(writePermission);
  const [editing, setEditing] = useState<{ name: string; value: T; isNew: boolean } | null>(null);
  const [done, setDone] = useState("");
  const path = (name: string) => `/api/v1/${segment}/${encodeURIComponent(name)}`;
  return (
    <Card
      title={title}
      actions={
        canWrite && editing === null ? (
          <button type="button" className="button secondary" onClick={() => setEditing({ name: "", value: blank, isNew: true })}>
            New {noun}
          </button>
        ) : null
      }
    >
      <p className="muted small">{intro}</p>
      <ErrorNote error={found.error} />
      {found.loading && !found.data ? <Loading /> : null}
      {found.data && found.data.data.length === 0 ? <Empty>{empty}</Empty> : null}
      {found.data && found.data.data.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              {columns.map((c) => (
                <th scope="col" key={c.label}>
                  {c.label}
                </th>
              ))}
              {canWrite ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {found.data.data.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                {columns.map((c) => (
                  <td key={c.label}>{c.show(r.document)}</td>
                ))}
                {canWrite ? (
                  <td>
                    <div className="row">
                      <button type="button" className="button secondary" onClick={() => setEditing({ name: r.name, value: r.document, isNew: false })}>
                        Edit {r.name}
                      </button>
                      <ActionButton
                        kind="danger"
                        confirm={`Delete the ${noun} ${r.name}?`}
                        action={async () => {
                          await del(path(r.name));
                          setDone(`Deleted ${r.name}`);
                          found.reload();
                        }}
                      >
                        Delete {r.name}
                      </ActionButton>
                    </div>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {done ? (
        <p role="status" className="ok-note">
          {done}
        </p>
      ) : null}
      {editing && canWrite ? (
        <form
          className="event-form"
          aria-label={editing.isNew ? `New ${noun}` : `Edit ${noun} ${editing.name}`}
          onSubmit={(e) => e.preventDefault()}
        >
          <div className="form-grid">
            {editing.isNew ? (
              <label>
                Name of the {noun}
                <input value={editing.name} onChange={(e) => setEditing({ ...editing, name: e.target.value })} />
              </label>
            ) : null}
            {fields({ value: editing.value, onChange: (value) => setEditing({ ...editing, value }), name: editing.name })}
          </div>
          <div className="row">
            <ActionButton
              disabled={!editing.name.trim()}
              action={async () => {
                await put(path(editing.name.trim()), editing.value);
                setDone(`Saved ${editing.name.trim()}`);
                setEditing(null);
                found.reload();
              }}
            >
              Save {noun}
            </ActionButton>
            <button type="button" className="button secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
    </Card>
  );
}

export const commaList = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
