// Tracking plans: the list, and an editor with a form and a YAML view kept in sync. Every change
// is checked by the server as it is typed (a dry-run save), so the errors are the ones a save,
// or `seamline apply`, gives.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, put } from "../../api";
import { useGet } from "../../hooks";
import { useCan } from "../../session";
import { ActionButton, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { CodeEditor } from "./CodeEditor";
import { emptyPlan, isPlan, newEvent, propertyRows, TYPES, withRows, type PlanDocument, type PropertyRow, type Rule } from "./planModel";
import { dumpYaml, parseYaml } from "./yaml";

interface Resource<T> {
  name: string;
  version: number;
  updated_at: string;
  document: T;
}

export function TrackingPlans() {
  const plans = useGet<{ data: Resource<PlanDocument>[] }>("/api/v1/tracking-plans");
  const canWrite = useCan("tracking-plans:write");
  const [open, setOpen] = useState<{ name: string; document: PlanDocument; isNew: boolean } | null>(null);
  const [newName, setNewName] = useState("");

  return (
    <>
      <Card title="Tracking plans">
        {plans.loading && !plans.data ? <Loading /> : null}
        <ErrorNote error={plans.error} />
        {plans.data && plans.data.data.length === 0 ? (
          <Empty>No tracking plans yet{canWrite ? " — name one below and add its events" : ""}.</Empty>
        ) : null}
        {plans.data && plans.data.data.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Plan</th>
                <th scope="col">Events</th>
                <th scope="col">Version</th>
                <th scope="col">Changed</th>
              </tr>
            </thead>
            <tbody>
              {plans.data.data.map((plan) => (
                <tr key={plan.name}>
                  <td>
                    <button
                      type="button"
                      className="linkish"
                      onClick={() => setOpen({ name: plan.name, document: plan.document, isNew: false })}
                    >
                      {plan.name}
                    </button>
                  </td>
                  <td>{plan.document.rules.filter((r) => r.type === "TRACK").length}</td>
                  <td>{plan.version}</td>
                  <td>
                    <Time at={plan.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {canWrite ? (
          <form
            className="row"
            onSubmit={(event) => {
              event.preventDefault();
              if (newName.trim()) setOpen({ name: newName.trim(), document: emptyPlan(newName.trim()), isNew: true });
              setNewName("");
            }}
          >
            <label>
              New plan name
              <input value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="Storefront" />
            </label>
            <button type="submit" className="button secondary" disabled={!newName.trim()}>
              New plan
            </button>
          </form>
        ) : null}
      </Card>
      {open ? (
        <PlanEditor
          key={open.name}
          name={open.name}
          initial={open.document}
          canWrite={canWrite}
          onSaved={plans.reload}
          onClose={() => setOpen(null)}
        />
      ) : null}
    </>
  );
}

type Check = { kind: "idle" } | { kind: "checking" } | { kind: "ok" } | { kind: "error"; message: string };

function PlanEditor({
  name,
  initial,
  canWrite,
  onSaved,
  onClose,
}: {
  name: string;
  initial: PlanDocument;
  canWrite: boolean;
  onSaved: () => void;
  onClose: () => void;
}) {
  // `doc` is what Save sends (from the form, or the YAML as typed); `plan` is the canonical form
  // the server last accepted, which the form shows.
  const [doc, setDoc] = useState<unknown>(initial);
  const [plan, setPlan] = useState<PlanDocument>(initial);
  const [text, setText] = useState(() => dumpYaml(initial));
  const [check, setCheck] = useState<Check>({ kind: "idle" });
  const [saved, setSaved] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(0);
  const path = `/api/v1/tracking-plans/${encodeURIComponent(name)}`;

  const validate = useCallback(
    (candidate: unknown, fromYaml: boolean) => {
      clearTimeout(timer.current);
      if (!canWrite) return;
      setCheck({ kind: "checking" });
      const call = ++latest.current;
      timer.current = setTimeout(() => {
        put<{ document: PlanDocument }>(`${path}?dry_run=true`, candidate)
          .then((answer) => {
            if (call !== latest.current) return;
            setCheck({ kind: "ok" });
            if (fromYaml) setPlan(answer.document);
          })
          .catch((error: unknown) => {
            if (call !== latest.current) return;
            setCheck({ kind: "error", message: error instanceof ApiError ? error.message : String(error) });
          });
      }, 400);
    },
    [canWrite, path],
  );
  useEffect(() => () => clearTimeout(timer.current), []);

  const fromForm = (next: PlanDocument) => {
    setPlan(next);
    setDoc(next);
    setText(dumpYaml(next));
    setSaved(null);
    validate(next, false);
  };

  const fromYaml = (typed: string) => {
    if (typed === text) return;
    setText(typed);
    setSaved(null);
    const parsed = parseYaml(typed);
    if (!parsed.ok) {
      clearTimeout(timer.current);
      latest.current++;
      setCheck({ kind: "error", message: parsed.error });
      return;
    }
    setDoc(parsed.value);
    validate(parsed.value, true);
  };

  const formStale = check.kind === "error" || (check.kind === "checking" && !isPlan(doc));

  return (
    <Card
      title={`Plan: ${name}`}
      actions={
        <button type="button" className="button secondary" onClick={onClose}>
          Close
        </button>
      }
    >
      <div className="split">
        <section aria-label="Plan form" className="plan-form">
          <PlanForm plan={plan} onChange={fromForm} readOnly={!canWrite || formStale} />
          {formStale && canWrite ? <p className="muted small">Fix the YAML to edit in the form again.</p> : null}
        </section>
        <section aria-label="Plan YAML">
          <CodeEditor language="yaml" value={text} onChange={fromYaml} label={`YAML of plan ${name}`} readOnly={!canWrite} />
        </section>
      </div>
      {canWrite ? (
        <div className="row">
          <CheckNote check={check} />
          <ActionButton
            disabled={check.kind === "error"}
            action={async () => {
              const stored = await put<{ version: number; document: PlanDocument }>(path, doc);
              setPlan(stored.document);
              setDoc(stored.document);
              setText(dumpYaml(stored.document));
              setCheck({ kind: "idle" });
              setSaved(`Saved: version ${stored.version}`);
              onSaved();
            }}
          >
            Save plan
          </ActionButton>
          {saved ? (
            <span role="status" className="ok-note">
              {saved}
            </span>
          ) : null}
        </div>
      ) : null}
    </Card>
  );
}

function CheckNote({ check }: { check: Check }) {
  if (check.kind === "error")
    return (
      <p className="error plan-check" role="alert">
        {check.message}
      </p>
    );
  return (
    <span className="muted small plan-check" role="status">
      {check.kind === "checking" ? "Checking…" : check.kind === "ok" ? "Valid: ready to save" : ""}
    </span>
  );
}

function PlanForm({ plan, onChange, readOnly }: { plan: PlanDocument; onChange: (next: PlanDocument) => void; readOnly: boolean }) {
  const [eventName, setEventName] = useState("");
  const events = plan.rules.map((rule, index) => ({ rule, index })).filter(({ rule }) => rule.type === "TRACK");
  const others = plan.rules.filter((r) => r.type !== "TRACK");
  const setRule = (index: number, rule: Rule | null) => {
    const rules = [...plan.rules];
    if (rule === null) rules.splice(index, 1);
    else rules[index] = rule;
    onChange({ ...plan, rules });
  };
  return (
    <div className="plan-events">
      <label>
        Plan description
        <input
          value={plan.description ?? ""}
          disabled={readOnly}
          onChange={(e) => onChange({ ...plan, description: e.target.value })}
        />
      </label>
      {events.length === 0 ? <Empty>No events in this plan yet.</Empty> : null}
      {events.map(({ rule, index }) => (
        <EventForm key={index} rule={rule} readOnly={readOnly} onChange={(next) => setRule(index, next)} />
      ))}
      {others.length > 0 ? (
        <p className="muted small">
          Also checks: {others.map((r) => (r.key ? `${r.type.toLowerCase()} ${r.key}` : r.type.toLowerCase())).join(", ")} (edit
          these in YAML).
        </p>
      ) : null}
      {readOnly ? null : (
        <div className="row">
          <label>
            New event name
            <input value={eventName} onChange={(e) => setEventName(e.target.value)} placeholder="Order Completed" />
          </label>
          <button
            type="button"
            className="button secondary"
            disabled={!eventName.trim()}
            onClick={() => {
              onChange({ ...plan, rules: [...plan.rules, newEvent(eventName.trim())] });
              setEventName("");
            }}
          >
            Add event
          </button>
        </div>
      )}
    </div>
  );
}

function EventForm({ rule, readOnly, onChange }: { rule: Rule; readOnly: boolean; onChange: (next: Rule | null) => void }) {
  const rows = propertyRows(rule);
  const event = rule.key ?? "";
  const setRows = (next: PropertyRow[]) => onChange(withRows(rule, next));
  const setRow = (i: number, change: Partial<PropertyRow>) => setRows(rows.map((r, j) => (i === j ? { ...r, ...change } : r)));
  return (
    <fieldset className="event-form">
      <legend>{event || "(unnamed event)"}</legend>
      {readOnly ? null : (
        <div className="row">
          <label>
            Event name
            <input value={event} onChange={(e) => onChange({ ...rule, key: e.target.value })} />
          </label>
          <label className="grow">
            Description
            <input value={rule.description ?? ""} onChange={(e) => onChange({ ...rule, description: e.target.value })} />
          </label>
        </div>
      )}
      {rows.length === 0 ? <p className="muted small">No properties: any are allowed.</p> : null}
      {rows.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              {readOnly ? null : <th scope="col">Remove</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}>
                <td>
                  {readOnly ? (
                    <code>{row.name}</code>
                  ) : (
                    <input aria-label={`Name of property ${i + 1} in ${event}`} value={row.name} onChange={(e) => setRow(i, { name: e.target.value })} />
                  )}
                </td>
                <td>
                  {readOnly ? (
                    row.type
                  ) : (
                    <select aria-label={`Type of ${row.name} in ${event}`} value={row.type} onChange={(e) => setRow(i, { type: e.target.value })}>
                      {(TYPES as readonly string[]).includes(row.type) ? null : <option value={row.type}>{row.type}</option>}
                      {TYPES.map((t) => (
                        <option key={t} value={t}>
                          {t}
                        </option>
                      ))}
                    </select>
                  )}
                </td>
                <td>
                  {readOnly ? (
                    row.required ? "yes" : "no"
                  ) : (
                    <input
                      type="checkbox"
                      aria-label={`${row.name} is required in ${event}`}
                      checked={row.required}
                      onChange={(e) => setRow(i, { required: e.target.checked })}
                    />
                  )}
                </td>
                {readOnly ? null : (
                  <td>
                    <button type="button" className="button secondary" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                      Remove {row.name || "property"}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {readOnly ? null : (
        <div className="row">
          <button type="button" className="button secondary" onClick={() => setRows([...rows, { name: `property_${rows.length + 1}`, type: "string", required: false }])}>
            Add property to {event || "event"}
          </button>
          <button type="button" className="button danger" onClick={() => onChange(null)}>
            Remove event {event}
          </button>
        </div>
      )}
    </fieldset>
  );
}
