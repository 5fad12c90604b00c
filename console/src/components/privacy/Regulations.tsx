// Regulations: suppress, unsuppress or delete people (Segment's Privacy API), their overall
// status, and one regulation's status per store and per destination, refreshed while it runs.
import { useState } from "react";
import { post } from "../../api";
import { useGet } from "../../hooks";
import { Can } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";

interface Target {
  name: string;
  id: string;
  status: string;
  errString: string | null;
  finishedAt: string | null;
}

interface Regulation {
  id: string;
  overallStatus: string;
  createdAt: string;
  finishedAt: string | null;
  regulationType: string;
  subjectType: string;
  subjectIds: string[] | null;
  sourceId: string | null;
  streamStatus: { id: string; destinationStatus: Target[] }[];
}

const TYPES: Record<string, string> = {
  SUPPRESS_WITH_DELETE: "Suppress and delete everywhere",
  DELETE_ONLY: "Delete everywhere (no suppression)",
  SUPPRESS_ONLY: "Suppress only (stop collecting)",
  UNSUPPRESS: "Lift a suppression",
  DELETE_INTERNAL: "Delete inside Seamline only",
  SUPPRESS_WITH_DELETE_INTERNAL: "Suppress and delete inside Seamline only",
};
const SUBJECTS: Record<string, string> = { USER_ID: "User id", ANONYMOUS_ID: "Anonymous id", EMAIL: "Email" };

export function tone(status: string): "good" | "bad" | "warn" | "neutral" {
  if (status === "FINISHED" || status === "SUCCESS") return "good";
  if (status === "FAILED") return "bad";
  if (status === "RUNNING" || status === "PARTIAL_SUCCESS" || status === "INITIALIZED" || status === "PENDING") return "warn";
  return "neutral";
}

const running = (r: Regulation) => !["FINISHED", "FAILED", "PARTIAL_SUCCESS"].includes(r.overallStatus);

export function Regulations() {
  const [open, setOpen] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  const found = useGet<{ data: { regulations: Regulation[] } }>("/api/v1/regulations", live ? 2 : 30);
  const regulations = found.data?.data.regulations ?? [];
  const anyRunning = regulations.some(running);
  if (anyRunning !== live && found.data) setLive(anyRunning);
  return (
    <>
      <Can permission="regulations:write">
        <CreateRegulation
          onCreated={(id) => {
            setOpen(id);
            setLive(true);
            found.reload();
          }}
        />
      </Can>
      <Card title="Regulations">
        <ErrorNote error={found.error} />
        {found.loading && !found.data ? <Loading /> : null}
        {found.data && regulations.length === 0 ? <Empty>No regulations yet.</Empty> : null}
        {regulations.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Regulation</th>
                <th scope="col">Type</th>
                <th scope="col">People</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {regulations.map((r) => (
                <tr key={r.id}>
                  <td>
                    <button type="button" className="linkish mono" onClick={() => setOpen(r.id)}>
                      {r.id}
                    </button>
                  </td>
                  <td>{TYPES[r.regulationType] ?? r.regulationType}</td>
                  <td>
                    {/* The ids are kept only while it runs; then only the kind of id is shown. */}
                    {r.subjectIds && r.subjectIds.length > 0
                      ? `${r.subjectIds.length} ${SUBJECTS[r.subjectType]?.toLowerCase() ?? r.subjectType}${r.subjectIds.length === 1 ? "" : "s"}`
                      : `By ${SUBJECTS[r.subjectType]?.toLowerCase() ?? r.subjectType}`}
                  </td>
                  <td>
                    <Badge tone={tone(r.overallStatus)}>{r.overallStatus}</Badge>
                  </td>
                  <td>
                    <Time at={r.createdAt} />
                  </td>
                  <td>
                    <Time at={r.finishedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Card>
      {open ? <RegulationDetail key={open} id={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}

function CreateRegulation({ onCreated }: { onCreated: (id: string) => void }) {
  const [type, setType] = useState("SUPPRESS_WITH_DELETE");
  const [subject, setSubject] = useState("USER_ID");
  const [ids, setIds] = useState("");
  const list = ids
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  return (
    <Card title="New regulation">
      <p className="muted small">
        Each id is resolved to the whole person (every profile merged with theirs). Suppression holds as soon as you create it;
        deletion takes a few seconds, then its status below says what was erased where.
      </p>
      <div className="form-grid">
        <label>
          What to do
          <select value={type} onChange={(e) => setType(e.target.value)}>
            {Object.entries(TYPES).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Identify people by
          <select value={subject} onChange={(e) => setSubject(e.target.value)}>
            {Object.entries(SUBJECTS).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        {SUBJECTS[subject]}s, one per line
        <textarea className="subjects" value={ids} onChange={(e) => setIds(e.target.value)} />
      </label>
      <div className="row">
        <ActionButton
          kind={type.includes("DELETE") ? "danger" : "primary"}
          disabled={list.length === 0}
          confirm={type.includes("DELETE") ? `Delete everything Seamline holds about ${list.length} ${list.length === 1 ? "person" : "people"}? This cannot be undone.` : undefined}
          action={async () => {
            const made = await post<{ data: { regulateId: string } }>("/api/v1/regulations", {
              regulationType: type,
              subjectType: subject,
              subjectIds: list,
            });
            setIds("");
            onCreated(made.data.regulateId);
          }}
        >
          Create regulation
        </ActionButton>
      </div>
    </Card>
  );
}

function RegulationDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const [refresh, setRefresh] = useState(2);
  const found = useGet<{ data: { regulation: Regulation } }>(`/api/v1/regulations/${encodeURIComponent(id)}`, refresh);
  const regulation = found.data?.data.regulation;
  if (regulation && !running(regulation) && refresh !== 0) setRefresh(0);
  const targets = regulation?.streamStatus.flatMap((s) => s.destinationStatus) ?? [];
  return (
    <Card
      title={`Regulation ${id}`}
      actions={
        <button type="button" className="button secondary" onClick={onClose}>
          Close
        </button>
      }
    >
      <ErrorNote error={found.error} />
      {regulation ? (
        <>
          <p role="status">
            {TYPES[regulation.regulationType] ?? regulation.regulationType}:{" "}
            <strong>
              <Badge tone={tone(regulation.overallStatus)}>{regulation.overallStatus}</Badge>
            </strong>{" "}
            {running(regulation) ? <span className="muted small">(refreshing every 2 s)</span> : null}
          </p>
          {targets.length === 0 ? (
            <Empty>Nothing to erase: this regulation only changes the suppression list.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Where</th>
                  <th scope="col">Status</th>
                  <th scope="col">Finished</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {targets.map((t) => (
                  <tr key={t.id}>
                    <td>{t.id.startsWith("seamline:") ? `Seamline ${t.id.slice(9).replace(/-/g, " ")}` : `Destination ${t.name}`}</td>
                    <td>
                      <Badge tone={tone(t.status)}>{t.status}</Badge>
                    </td>
                    <td>
                      <Time at={t.finishedAt} />
                    </td>
                    <td>{t.errString ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : (
        <Loading />
      )}
    </Card>
  );
}
