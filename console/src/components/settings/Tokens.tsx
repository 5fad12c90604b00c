// Access tokens for the API and the CLI: create (the secret is shown once), revoke.
import { useState, type FormEvent } from "react";
import { del, post } from "../../api";
import { useGet } from "../../hooks";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { AccessFields } from "./AccessFields";

interface TokenRow {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  roles: string[];
  pii_access: boolean;
}

export function Tokens() {
  const tokens = useGet<{ data: TokenRow[] }>("/api/v1/tokens");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const found = tokens.data?.data ?? [];
  return (
    <>
      {created ? <SecretOnce name={created.name} token={created.token} onDone={() => setCreated(null)} /> : null}
      <Card
        title="Access tokens"
        actions={
          creating ? null : (
            <button type="button" className="button primary" onClick={() => setCreating(true)}>
              Create token
            </button>
          )
        }
      >
        <p className="muted small">
          Tokens let scripts and the CLI use the API: send one as <code>Authorization: Bearer …</code>.
        </p>
        <ErrorNote error={tokens.error} />
        {tokens.data === undefined ? (
          <Loading />
        ) : found.length === 0 ? (
          <Empty>No tokens yet — create one for a script or the CLI.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Roles</th>
                <th scope="col">PII access</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {found.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td>{token.roles.join(", ")}</td>
                  <td>{token.pii_access ? "yes" : "no"}</td>
                  <td>
                    <Time at={token.created_at} />
                  </td>
                  <td>
                    <Time at={token.last_used_at} />
                  </td>
                  <td>{token.revoked_at ? <Badge tone="bad">revoked</Badge> : <Badge tone="good">active</Badge>}</td>
                  <td>
                    {token.revoked_at ? null : (
                      <ActionButton
                        kind="danger"
                        aria-label={`Revoke ${token.name}`}
                        confirm={`Revoke the token ${token.name}? Whatever uses it gets 401 from now on.`}
                        action={async () => {
                          await del(`/api/v1/tokens/${encodeURIComponent(token.id)}`);
                          tokens.reload();
                        }}
                      >
                        Revoke
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {creating ? (
        <NewToken
          onCancel={() => setCreating(false)}
          onCreated={(name, token) => {
            setCreating(false);
            setCreated({ name, token });
            tokens.reload();
          }}
        />
      ) : null}
    </>
  );
}

function SecretOnce({ name, token, onDone }: { name: string; token: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret-once" role="status">
      <strong>Token {name} created. Copy it now: it is not shown again.</strong>
      <code data-testid="new-token">{token}</code>
      <div className="row">
        <button
          type="button"
          className="button primary"
          onClick={async () => {
            await navigator.clipboard.writeText(token);
            setCopied(true);
          }}
        >
          {copied ? "Copied" : "Copy token"}
        </button>
        <button type="button" className="button secondary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function NewToken({ onCreated, onCancel }: { onCreated: (name: string, token: string) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [roles, setRoles] = useState<string[]>([]);
  const [pii, setPii] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await post<{ data: TokenRow & { token: string } }>("/api/v1/tokens", {
        name: name.trim(),
        roles,
        pii_access: pii,
      });
      onCreated(answer.data.name, answer.data.token);
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Create a token">
      <form className="form" onSubmit={submit}>
        <label>
          Token name
          <input name="token-name" type="text" autoComplete="off" required value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-deploys" />
        </label>
        <AccessFields
          legend="What the token may do"
          idPrefix="new-token"
          roles={roles}
          onRoles={setRoles}
          pii={pii}
          onPii={setPii}
          piiLabel="PII access: reads personal data unmasked"
          error={error}
          busy={busy}
          submit="Create token"
          busyLabel="Creating…"
          onCancel={onCancel}
        />
      </form>
    </Card>
  );
}
