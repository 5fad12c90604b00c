// Users and roles: the list, creating a user, changing roles or PII access, disabling.
import { useState, type FormEvent } from "react";
import { patch, post } from "../../api";
import { useGet } from "../../hooks";
import { useSession } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { AccessFields } from "./AccessFields";

export interface UserRow {
  id: string;
  email: string;
  roles: string[];
  pii_access: boolean;
  created_at: string;
  disabled_at: string | null;
}

export function Users() {
  const users = useGet<{ data: UserRow[] }>("/api/v1/users");
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const me = useSession().user;
  const found = users.data?.data ?? [];
  const edited = found.find((u) => u.id === editing);
  return (
    <>
      <Card
        title="Users"
        actions={
          creating ? null : (
            <button type="button" className="button primary" onClick={() => setCreating(true)}>
              Add user
            </button>
          )
        }
      >
        <ErrorNote error={users.error} />
        {users.data === undefined ? (
          <Loading />
        ) : found.length === 0 ? (
          <Empty>No users yet — add one.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Roles</th>
                <th scope="col">PII access</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {found.map((user) => (
                <tr key={user.id}>
                  <td>{user.email}</td>
                  <td>{user.roles.join(", ") || <span className="muted">none</span>}</td>
                  <td>{user.pii_access ? "yes" : "no"}</td>
                  <td>{user.disabled_at ? <Badge tone="warn">disabled</Badge> : <Badge tone="good">active</Badge>}</td>
                  <td>
                    <Time at={user.created_at} />
                  </td>
                  <td>
                    <div className="row">
                      <button
                        type="button"
                        className="button secondary"
                        aria-label={`Edit ${user.email}`}
                        onClick={() => setEditing(user.id)}
                      >
                        Edit
                      </button>
                      {user.id === me.id ? null : (
                        <ActionButton
                          kind={user.disabled_at ? "secondary" : "danger"}
                          aria-label={`${user.disabled_at ? "Enable" : "Disable"} ${user.email}`}
                          confirm={user.disabled_at ? undefined : `Disable ${user.email}? They are signed out and cannot sign in.`}
                          action={async () => {
                            await patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { disabled: !user.disabled_at });
                            users.reload();
                          }}
                        >
                          {user.disabled_at ? "Enable" : "Disable"}
                        </ActionButton>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {creating ? (
        <NewUser
          onDone={() => {
            setCreating(false);
            users.reload();
          }}
          onCancel={() => setCreating(false)}
        />
      ) : null}
      {edited ? (
        <EditUser
          key={edited.id}
          user={edited}
          onDone={() => {
            setEditing(null);
            users.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
    </>
  );
}

function NewUser({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState<string[]>([]);
  const [pii, setPii] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post("/api/v1/users", { email: email.trim(), password, roles, pii_access: pii });
      onDone();
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Add a user">
      <form className="form" onSubmit={submit}>
        <div className="row">
          <label>
            Email
            <input name="new-user-email" type="email" autoComplete="off" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            First password (at least 12 characters)
            <input
              name="new-user-password"
              type="password"
              autoComplete="new-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
        </div>
        <AccessFields
          legend="Roles"
          idPrefix="new-user"
          roles={roles}
          onRoles={setRoles}
          pii={pii}
          onPii={setPii}
          piiLabel="PII access: sees personal data unmasked"
          error={error}
          busy={busy}
          submit="Create user"
          busyLabel="Creating…"
          onCancel={onCancel}
        />
      </form>
    </Card>
  );
}

function EditUser({ user, onDone, onCancel }: { user: UserRow; onDone: () => void; onCancel: () => void }) {
  const [roles, setRoles] = useState<string[]>(user.roles);
  const [pii, setPii] = useState(user.pii_access);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { roles, pii_access: pii });
      onDone();
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={`Edit ${user.email}`}>
      <form className="form" onSubmit={submit}>
        <AccessFields
          legend="Roles"
          idPrefix="edit-user"
          roles={roles}
          onRoles={setRoles}
          pii={pii}
          onPii={setPii}
          piiLabel="PII access: sees personal data unmasked"
          error={error}
          busy={busy}
          submit="Save changes"
          busyLabel="Saving…"
          onCancel={onCancel}
        />
      </form>
    </Card>
  );
}
