// The audit trail: who changed or read what, newest first, filtered by action, actor,
// resource and time (GET /api/v1/audit-trail's parameters), a page at a time.
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, get, query } from "../../api";
import { Card, Empty, ErrorNote, Json, Loading, Time } from "../ui";

interface Entry {
  seq: number;
  at: string;
  actor: { kind: string; id: string; name: string };
  action: string;
  resource: { type: string; id: string };
  before: unknown;
  after: unknown;
  origin: { ip: string | null; request_id: string | null };
}

interface Filter {
  action: string;
  actor: string;
  resource_type: string;
  resource_id: string;
  since: string;
  until: string;
}

const ACTIONS = [
  "resource.create",
  "resource.update",
  "resource.delete",
  "user.create",
  "user.update",
  "user.password",
  "user.login",
  "user.logout",
  "token.create",
  "token.revoke",
  "token.rotate",
  "source.create",
  "source.update",
  "source.rotate_write_key",
  "destination.replay",
  "destination.replay_dead",
  "held.rerun",
  "profile.read",
  "profile.unmerge",
  "regulation.create",
];

const EMPTY: Filter = { action: "", actor: "", resource_type: "", resource_id: "", since: "", until: "" };

const iso = (local: string) => (local ? new Date(local).toISOString() : "");

export function AuditTrail() {
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [applied, setApplied] = useState<Filter>(EMPTY);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (cursor: string | null, shown: Filter = applied) => {
    setBusy(true);
    setError(null);
    try {
      const params = { ...shown, since: iso(shown.since), until: iso(shown.until), limit: 50, cursor };
      const page = await get<{ data: Entry[]; next: string | null }>(`/api/v1/audit-trail${query(params)}`);
      setEntries((before) => (cursor && before ? [...before, ...page.data] : page.data));
      setNext(page.next);
    } catch (failed) {
      setError(failed instanceof Error ? failed : new Error(String(failed)));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void load(null, applied);
    // A newly applied filter is what reloads the first page.
  }, [applied]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied({ ...filter });
  };
  const set = (key: keyof Filter) => (e: { target: { value: string } }) => setFilter((f) => ({ ...f, [key]: e.target.value }));

  return (
    <Card title="Audit trail">
      <form className="filters" onSubmit={submit} aria-label="Audit trail filters">
        <label>
          Action
          <input name="audit-action" type="text" list="audit-actions" value={filter.action} onChange={set("action")} placeholder="any" />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          Who (email, token name or id)
          <input name="audit-actor" type="text" value={filter.actor} onChange={set("actor")} placeholder="anyone" />
        </label>
        <label>
          Resource type
          <input name="audit-resource-type" type="text" value={filter.resource_type} onChange={set("resource_type")} placeholder="destination, user …" />
        </label>
        <label>
          Resource id
          <input name="audit-resource-id" type="text" value={filter.resource_id} onChange={set("resource_id")} />
        </label>
        <label>
          From
          <input name="audit-since" type="datetime-local" value={filter.since} onChange={set("since")} />
        </label>
        <label>
          Until
          <input name="audit-until" type="datetime-local" value={filter.until} onChange={set("until")} />
        </label>
        <div className="row">
          <button type="submit" className="button primary" disabled={busy}>
            Filter
          </button>
          <button
            type="button"
            className="button secondary"
            onClick={() => {
              setFilter(EMPTY);
              setApplied({ ...EMPTY });
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {entries === null ? (
        <Loading />
      ) : entries.length === 0 ? (
        <Empty>Nothing recorded matches these filters.</Empty>
      ) : (
        <table className="audit">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Resource</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.seq}>
                <td>
                  <Time at={entry.at} />
                </td>
                <td>
                  {entry.actor.name} <span className="muted">({entry.actor.kind})</span>
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td>
                  {entry.resource.type} <code>{entry.resource.id}</code>
                </td>
                <td>
                  {entry.before !== null || entry.after !== null ? (
                    <details>
                      <summary>Before and after</summary>
                      <Json value={{ before: entry.before, after: entry.after }} />
                    </details>
                  ) : null}
                  {entry.origin.ip ? <span className="muted small">from {entry.origin.ip}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next ? (
        <div className="row">
          <button type="button" className="button secondary" disabled={busy} onClick={() => void load(next)}>
            Load older entries
          </button>
        </div>
      ) : null}
    </Card>
  );
}
