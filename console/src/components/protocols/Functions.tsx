// Custom functions: the list, a Python editor, and a test run on a sample event (the code as it
// is in the editor, saved or not, in the same sandbox the pipeline uses).
import { useState } from "react";
import { post, put } from "../../api";
import { useGet } from "../../hooks";
import { useCan } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Json, Loading, Time } from "../ui";
import { CodeEditor } from "./CodeEditor";
import { parseSample } from "./sample";

interface FunctionDoc {
  code: string;
  time_limit: number;
}

export interface Outcome {
  kind: "ok" | "dropped" | "error" | "timeout";
  event: unknown;
  error: string | null;
}

const STARTER = `def transform(event):
    # Change the event and return it, or return None to drop it.
    props = event.setdefault("properties", {})
    return event
`;
export const SAMPLE = JSON.stringify(
  { type: "track", event: "Order Completed", userId: "user-1", properties: { total: 12.5, currency: "usd" } },
  null,
  2,
);

export function Functions() {
  const list = useGet<{ data: { name: string; version: number; updated_at: string; document: FunctionDoc }[] }>("/api/v1/functions");
  const canWrite = useCan("functions:write");
  const [open, setOpen] = useState<{ name: string; document: FunctionDoc } | null>(null);
  const [newName, setNewName] = useState("");
  return (
    <>
      <Card title="Functions">
        <p className="muted small">
          A function is Python code defining <code>transform(event)</code>; a transformation of kind “function” runs it on
          the events it selects.
        </p>
        <ErrorNote error={list.error} />
        {list.loading && !list.data ? <Loading /> : null}
        {list.data && list.data.data.length === 0 ? <Empty>No functions yet{canWrite ? " — name one below" : ""}.</Empty> : null}
        {list.data && list.data.data.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Function</th>
                <th scope="col">Time limit</th>
                <th scope="col">Version</th>
                <th scope="col">Changed</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((f) => (
                <tr key={f.name}>
                  <td>
                    <button type="button" className="linkish" onClick={() => setOpen({ name: f.name, document: f.document })}>
                      {f.name}
                    </button>
                  </td>
                  <td>{f.document.time_limit} s</td>
                  <td>{f.version}</td>
                  <td>
                    <Time at={f.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {canWrite ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (newName.trim()) setOpen({ name: newName.trim(), document: { code: STARTER, time_limit: 1 } });
              setNewName("");
            }}
          >
            <label>
              New function name
              <input value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="cents" />
            </label>
            <button type="submit" className="button secondary" disabled={!newName.trim()}>
              New function
            </button>
          </form>
        ) : null}
      </Card>
      {open ? <FunctionEditor key={open.name} name={open.name} initial={open.document} onSaved={list.reload} /> : null}
    </>
  );
}

function FunctionEditor({ name, initial, onSaved }: { name: string; initial: FunctionDoc; onSaved: () => void }) {
  const canWrite = useCan("functions:write");
  const [code, setCode] = useState(initial.code);
  const [limit, setLimit] = useState(String(initial.time_limit));
  const [sample, setSample] = useState(SAMPLE);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [saved, setSaved] = useState("");
  const path = `/api/v1/functions/${encodeURIComponent(name)}`;
  const document = () => ({ code, time_limit: Number(limit) });
  return (
    <Card title={`Function: ${name}`}>
      <CodeEditor language="python" value={code} onChange={setCode} label={`Python code of function ${name}`} readOnly={!canWrite} />
      {canWrite ? (
        <>
          <div className="row">
            <label>
              Time limit per event (seconds)
              <input type="number" min="0.1" max="30" step="0.1" value={limit} onChange={(e) => setLimit(e.target.value)} />
            </label>
            <ActionButton
              action={async () => {
                const stored = await put<{ version: number }>(path, document());
                setSaved(`Saved: version ${stored.version}`);
                onSaved();
              }}
            >
              Save function
            </ActionButton>
            {saved ? (
              <span role="status" className="ok-note">
                {saved}
              </span>
            ) : null}
          </div>
          <div className="split">
            <label>
              Sample event (JSON)
              <textarea value={sample} onChange={(e) => setSample(e.target.value)} rows={10} />
            </label>
            <div>
              <ActionButton
                kind="secondary"
                action={async () => {
                  setOutcome(null);
                  const event = parseSample(sample);
                  setOutcome(await post<Outcome>(`${path}/test`, { ...document(), event }));
                }}
              >
                Run test
              </ActionButton>
              {outcome ? <OutcomeView outcome={outcome} /> : <p className="muted small">Runs the code above on the sample event.</p>}
            </div>
          </div>
        </>
      ) : null}
    </Card>
  );
}

export function OutcomeView({ outcome }: { outcome: Outcome & { applies?: boolean } }) {
  const tone = outcome.kind === "ok" ? "good" : outcome.kind === "dropped" ? "warn" : "bad";
  const words = { ok: "Returned this event", dropped: "Dropped the event (returned None)", error: "Raised an error", timeout: "Timed out" };
  return (
    <section aria-label="Test result" className="plan-events">
      {outcome.applies === false ? (
        <p>
          <Badge>skipped</Badge> This event is outside its scope (events, types or condition): unchanged
        </p>
      ) : (
        <p>
          <Badge tone={tone}>{outcome.kind}</Badge> {words[outcome.kind]}
        </p>
      )}
      {outcome.event ? <Json value={outcome.event} /> : null}
      {outcome.error ? <pre className="json">{outcome.error}</pre> : null}
    </section>
  );
}
