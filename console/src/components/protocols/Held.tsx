// Held messages: what schema controls, transformations, functions or a failing stage kept back,
// with re-run (selected or all) once the plan or the code is fixed.
import { useState } from "react";
import { post, query } from "../../api";
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { Can } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Json, Loading, Time } from "../ui";

interface Held {
  id: number;
  source_id: string;
  message_id: string | null;
  disposition: string;
  reason: string;
  message: unknown;
  held_at: string;
  rerun_at: string | null;
}

const KINDS: Record<string, string> = {
  block: "blocked",
  quarantine: "quarantined",
  drop: "dropped",
  function_error: "function failed",
  error: "stage failed",
};

export function HeldMessages() {
  const [withRerun, setWithRerun] = useState(false);
  const held = useGet<{ data: Held[] }>("/api/v1/held" + query({ include_rerun: withRerun || undefined, limit: 500 }), 10);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [done, setDone] = useState("");
  const pending = (held.data?.data ?? []).filter((h) => h.rerun_at === null);
  const rerun = async (ids: number[] | null) => {
    const answer = await post<{ rerun: number }>("/api/v1/held/rerun", ids === null ? {} : { ids });
    setDone(`${answer.rerun} message${answer.rerun === 1 ? "" : "s"} sent through the pipeline again.`);
    setSelected(new Set());
    held.reload();
  };
  const toggle = (id: number) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  return (
    <Card
      title="Held messages"
      actions={
        <Can permission="sources:write">
          <div className="row">
            <ActionButton kind="secondary" disabled={selected.size === 0} action={() => rerun([...selected])}>
              Re-run selected ({selected.size})
            </ActionButton>
            <ActionButton disabled={pending.length === 0} action={() => rerun(null)}>
              Re-run all held
            </ActionButton>
          </div>
        </Can>
      }
    >
      <p className="muted small">
        A re-run sends each message through the whole pipeline again under today’s plan and settings; one that still breaks the
        plan is held again.
      </p>
      <label className="checkline">
        <input type="checkbox" checked={withRerun} onChange={(e) => setWithRerun(e.target.checked)} />
        Also show messages already re-run
      </label>
      {done ? (
        <p role="status" className="ok-note">
          {done}
        </p>
      ) : null}
      <ErrorNote error={held.error} />
      {held.loading && !held.data ? <Loading /> : null}
      {held.data && held.data.data.length === 0 ? <Empty>Nothing is held: every message went on.</Empty> : null}
      {held.data && held.data.data.length > 0 ? (
        <table>
          <thead>
            <tr>
              <Can permission="sources:write">
                <th scope="col">Select</th>
              </Can>
              <th scope="col">Held</th>
              <th scope="col">Why</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {held.data.data.map((h) => (
              <tr key={h.id}>
                <Can permission="sources:write">
                  <td>
                    {h.rerun_at === null ? (
                      <input
                        type="checkbox"
                        aria-label={`Select held message ${h.message_id ?? h.id}`}
                        checked={selected.has(h.id)}
                        onChange={() => toggle(h.id)}
                      />
                    ) : null}
                  </td>
                </Can>
                <td>
                  <Time at={h.held_at} />
                  <br />
                  {h.rerun_at ? (
                    <Badge tone="good">re-run</Badge>
                  ) : (
                    <Badge tone="warn">{KINDS[h.disposition] ?? h.disposition}</Badge>
                  )}
                </td>
                <td>{h.reason}</td>
                <td>
                  {h.message_id ? (
                    <Link to={`/messages/${encodeURIComponent(h.message_id)}`} className="mono">
                      {h.message_id}
                    </Link>
                  ) : null}
                  <details>
                    <summary>The message as it arrived</summary>
                    <Json value={h.message} />
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}
