// Declarative transformations: the list, and a form whose fields follow the kind chosen.
import { useState } from "react";
import { del, post, put } from "../../api";
import { useGet } from "../../hooks";
import { useCan } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading } from "../ui";
import { OutcomeView, SAMPLE, type Outcome } from "./Functions";
import { parseSample } from "./sample";

interface Transformation {
  kind: string;
  sources: string[];
  types: string[];
  events: string[];
  where: string | null;
  to: string | null;
  property: string | null;
  properties: string[];
  map: Record<string, unknown> | null;
  cast: string | null;
  value?: unknown;
  template: string | null;
  function: string | null;
  order: number;
  enabled: boolean;
}

const KINDS: Record<string, { label: string; fields: string[] }> = {
  rename_event: { label: "Rename an event", fields: ["to"] },
  merge_events: { label: "Merge several event names into one", fields: ["events", "to"] },
  rename_property: { label: "Move a property", fields: ["property", "to"] },
  map_value: { label: "Replace values", fields: ["property", "map"] },
  cast: { label: "Change a value's type", fields: ["property", "cast"] },
  default: { label: "Fill a missing value", fields: ["property", "value"] },
  drop_property: { label: "Remove properties", fields: ["properties"] },
  drop_event: { label: "Drop the event (hold it)", fields: [] },
  derive: { label: "Compute a value from a template", fields: ["property", "template"] },
  function: { label: "Run a custom function", fields: ["function"] },
};

const EMPTY: Transformation = {
  kind: "rename_event",
  sources: [],
  types: [],
  events: [],
  where: null,
  to: null,
  property: null,
  properties: [],
  map: null,
  cast: null,
  template: null,
  function: null,
  order: 0,
  enabled: true,
};

const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
const mapText = (map: Record<string, unknown> | null) =>
  Object.entries(map ?? {})
    .map(([k, v]) => `${k} = ${String(v)}`)
    .join("\n");
const parseMap = (text: string) =>
  Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
  );

export function Transformations() {
  const found = useGet<{ data: { name: string; document: Transformation }[] }>("/api/v1/transformations");
  const functions = useGet<{ data: { name: string }[] }>("/api/v1/functions");
  const canWrite = useCan("tracking-plans:write");
  const [open, setOpen] = useState<{ name: string; document: Transformation; isNew: boolean } | null>(null);
  const [newName, setNewName] = useState("");
  return (
    <>
      <Card title="Transformations">
        <p className="muted small">Transformations fix events as they arrive, in order, before the tracking plan checks them.</p>
        <ErrorNote error={found.error} />
        {found.loading && !found.data ? <Loading /> : null}
        {found.data && found.data.data.length === 0 ? <Empty>No transformations yet{canWrite ? " — name one below" : ""}.</Empty> : null}
        {found.data && found.data.data.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Transformation</th>
                <th scope="col">Does</th>
                <th scope="col">Applies to</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {[...found.data.data]
                .sort((a, b) => a.document.order - b.document.order || a.name.localeCompare(b.name))
                .map((t) => (
                  <tr key={t.name}>
                    <td>{t.document.order}</td>
                    <td>
                      <button type="button" className="linkish" onClick={() => setOpen({ name: t.name, document: t.document, isNew: false })}>
                        {t.name}
                      </button>
                    </td>
                    <td>{KINDS[t.document.kind]?.label ?? t.document.kind}</td>
                    <td>
                      {[...t.document.events, ...t.document.types, ...t.document.sources].join(", ") || "every event"}
                      {t.document.where ? <code> where {t.document.where}</code> : null}
                    </td>
                    <td>{t.document.enabled ? <Badge tone="good">on</Badge> : <Badge>off</Badge>}</td>
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
              if (newName.trim()) setOpen({ name: newName.trim(), document: EMPTY, isNew: true });
              setNewName("");
            }}
          >
            <label>
              New transformation name
              <input value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="fix-order-name" />
            </label>
            <button type="submit" className="button secondary" disabled={!newName.trim()}>
              New transformation
            </button>
          </form>
        ) : null}
      </Card>
      {open ? (
        <TransformationForm
          key={open.name}
          name={open.name}
          initial={open.document}
          functions={(functions.data?.data ?? []).map((f) => f.name)}
          readOnly={!canWrite}
          onDone={() => {
            found.reload();
          }}
          onClose={() => setOpen(null)}
        />
      ) : null}
    </>
  );
}

function TransformationForm({
  name,
  initial,
  functions,
  readOnly,
  onDone,
  onClose,
}: {
  name: string;
  initial: Transformation;
  functions: string[];
  readOnly: boolean;
  onDone: () => void;
  onClose: () => void;
}) {
  const [t, setT] = useState(initial);
  const [mapping, setMapping] = useState(mapText(initial.map));
  const [value, setValue] = useState(initial.value === undefined ? "" : JSON.stringify(initial.value));
  const [saved, setSaved] = useState("");
  const [sample, setSample] = useState(SAMPLE);
  const [outcome, setOutcome] = useState<(Outcome & { applies: boolean }) | null>(null);
  const shows = (field: string) => KINDS[t.kind]?.fields.includes(field);
  const set = (change: Partial<Transformation>) => setT({ ...t, ...change });
  const path = `/api/v1/transformations/${encodeURIComponent(name)}`;
  const document = () => {
    const doc: Record<string, unknown> = { kind: t.kind, order: t.order, enabled: t.enabled };
    if (t.events.length) doc.events = t.events;
    if (t.types.length) doc.types = t.types;
    if (t.sources.length) doc.sources = t.sources;
    if (t.where) doc.where = t.where;
    if (shows("to")) doc.to = t.to;
    if (shows("property")) doc.property = t.property;
    if (shows("properties")) doc.properties = t.properties;
    if (shows("map")) doc.map = parseMap(mapping);
    if (shows("cast")) doc.cast = t.cast;
    if (shows("template")) doc.template = t.template;
    if (shows("function")) doc.function = t.function;
    if (shows("value")) {
      try {
        doc.value = JSON.parse(value);
      } catch {
        doc.value = value;
      }
    }
    return doc;
  };
  return (
    <Card
      title={`Transformation: ${name}`}
      actions={
        <button type="button" className="button secondary" onClick={onClose}>
          Close
        </button>
      }
    >
      <fieldset disabled={readOnly} className="form-grid event-form">
        <legend>What it does</legend>
        <label>
          Kind
          <select value={t.kind} onChange={(e) => set({ kind: e.target.value })}>
            {Object.entries(KINDS).map(([kind, { label }]) => (
              <option key={kind} value={kind}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {shows("property") ? (
          <label>
            Property path
            <input value={t.property ?? ""} placeholder="properties.total" onChange={(e) => set({ property: e.target.value || null })} />
          </label>
        ) : null}
        {shows("to") ? (
          <label>
            {t.kind === "rename_property" ? "New path" : "New event name"}
            <input value={t.to ?? ""} onChange={(e) => set({ to: e.target.value || null })} />
          </label>
        ) : null}
        {shows("properties") ? (
          <label>
            Properties to remove (comma-separated paths)
            <input value={t.properties.join(", ")} onChange={(e) => set({ properties: list(e.target.value) })} />
          </label>
        ) : null}
        {shows("cast") ? (
          <label>
            Convert to
            <select value={t.cast ?? ""} onChange={(e) => set({ cast: e.target.value || null })}>
              <option value="">Choose a type</option>
              {["string", "number", "integer", "boolean"].map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
        ) : null}
        {shows("value") ? (
          <label>
            Value (text, or JSON)
            <input value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
        ) : null}
        {shows("template") ? (
          <label>
            Template
            <input value={t.template ?? ""} placeholder="{{properties.total}}" onChange={(e) => set({ template: e.target.value || null })} />
          </label>
        ) : null}
        {shows("function") ? (
          <label>
            Function
            <select value={t.function ?? ""} onChange={(e) => set({ function: e.target.value || null })}>
              <option value="">Choose a function</option>
              {functions.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </label>
        ) : null}
        {shows("map") ? (
          <label>
            Replacements, one per line (old = new)
            <textarea value={mapping} onChange={(e) => setMapping(e.target.value)} />
          </label>
        ) : null}
      </fieldset>
      <fieldset disabled={readOnly} className="form-grid event-form">
        <legend>Which events</legend>
        <label>
          {t.kind === "merge_events" ? "Event names to merge (comma-separated)" : "Only these events (comma-separated)"}
          <input value={t.events.join(", ")} onChange={(e) => set({ events: list(e.target.value) })} />
        </label>
        <label>
          Only these types
          <input value={t.types.join(", ")} placeholder="track, identify" onChange={(e) => set({ types: list(e.target.value) })} />
        </label>
        <label>
          Only these sources
          <input value={t.sources.join(", ")} onChange={(e) => set({ sources: list(e.target.value) })} />
        </label>
        <label>
          Condition (FQL)
          <input value={t.where ?? ""} placeholder="properties.total > 100" onChange={(e) => set({ where: e.target.value || null })} />
        </label>
        <label>
          Order
          <input type="number" value={t.order} onChange={(e) => set({ order: Number(e.target.value) })} />
        </label>
        <label className="checkline">
          <input type="checkbox" checked={t.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
          Enabled
        </label>
      </fieldset>
      {readOnly ? null : (
        <div className="split">
          <label>
            Sample event (JSON)
            <textarea value={sample} onChange={(e) => setSample(e.target.value)} rows={8} />
          </label>
          <div>
            <ActionButton
              kind="secondary"
              action={async () => {
                setOutcome(null);
                const event = parseSample(sample);
                setOutcome(await post<Outcome & { applies: boolean }>(`${path}/test`, { transformation: document(), event }));
              }}
            >
              Run test
            </ActionButton>
            {outcome ? <OutcomeView outcome={outcome} /> : <p className="muted small">Applies the form above to the sample event.</p>}
          </div>
        </div>
      )}
      {readOnly ? null : (
        <div className="row">
          <ActionButton
            action={async () => {
              const stored = await put<{ version: number }>(path, document());
              setSaved(`Saved: version ${stored.version}`);
              onDone();
            }}
          >
            Save transformation
          </ActionButton>
          <ActionButton
            kind="danger"
            confirm={`Delete the transformation ${name}?`}
            action={async () => {
              await del(path);
              onDone();
              onClose();
            }}
          >
            Delete transformation
          </ActionButton>
          {saved ? (
            <span role="status" className="ok-note">
              {saved}
            </span>
          ) : null}
        </div>
      )}
    </Card>
  );
}
