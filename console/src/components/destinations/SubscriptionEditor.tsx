// Create or edit one subscription: the action, the trigger (builder or FQL), the mapping.
import { useState, type FormEvent } from "react";
import { ApiError, put } from "../../api";
import { ErrorNote } from "../ui";
import { fromMapping, toMapping, type FieldValue } from "./mapping";
import { MappingEditor } from "./MappingEditor";
import { TriggerBuilder } from "./TriggerBuilder";
import type { ActionSpec, CatalogEntry, Resource, SubscriptionDocument } from "./types";

function startValues(action: ActionSpec, mapping: Record<string, unknown> | null): Record<string, FieldValue> {
  const values: Record<string, FieldValue> = {};
  for (const [key, spec] of Object.entries(action.fields)) values[key] = fromMapping(mapping?.[key], spec.default);
  return values;
}

export function SubscriptionEditor({
  destination,
  entry,
  existing,
  onSaved,
  onCancel,
}: {
  destination: string;
  entry: CatalogEntry;
  existing?: Resource<SubscriptionDocument>;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const actions = Object.entries(entry.actions);
  const [name, setName] = useState(existing?.name ?? "");
  const [actionKey, setActionKey] = useState(existing?.document.action ?? actions[0]?.[0] ?? "");
  const action = entry.actions[actionKey];
  const [trigger, setTrigger] = useState(existing?.document.trigger ?? "");
  const [values, setValues] = useState<Record<string, FieldValue>>(() =>
    action ? startValues(action, existing?.document.mapping ?? null) : {},
  );
  const [enabled, setEnabled] = useState(existing?.document.enabled ?? true);
  // A preset fills in the action and its trigger; the builder starts again from that text.
  const [preset, setPreset] = useState<{ n: number; trigger: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const mapping: Record<string, unknown> = {};
      for (const [key, spec] of Object.entries(action?.fields ?? {})) {
        const value = values[key] ? toMapping(values[key], spec.type, spec.label) : undefined;
        if (value !== undefined) mapping[key] = value;
      }
      const document = { destination, action: actionKey, trigger: trigger.trim() ? trigger : null, mapping, enabled };
      await put(`/api/v1/subscriptions/${encodeURIComponent(name.trim())}`, document);
      onSaved();
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form subscription-editor" onSubmit={submit} aria-label={existing ? `Edit ${existing.name}` : "New subscription"}>
      <div className="row">
        <label>
          Subscription name
          <input
            name="subscription-name"
            type="text"
            required
            readOnly={existing !== undefined}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="orders-to-webhook"
          />
        </label>
        <label>
          Action
          <select
            value={actionKey}
            onChange={(e) => {
              setActionKey(e.target.value);
              const next = entry.actions[e.target.value];
              setValues(next ? startValues(next, null) : {});
            }}
          >
            {actions.map(([key, a]) => (
              <option key={key} value={key}>
                {a.title}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          Enabled
        </label>
      </div>
      {action ? <p className="muted small">{action.description}</p> : null}
      {existing === undefined && entry.presets.length > 0 ? (
        <div className="row">
          <span className="muted small">Start from a preset:</span>
          {entry.presets.map((p) => (
            <button
              key={p.name}
              type="button"
              className="button secondary"
              onClick={() => {
                setActionKey(p.action);
                const next = entry.actions[p.action];
                setValues(next ? startValues(next, null) : {});
                setPreset((before) => ({ n: (before?.n ?? 0) + 1, trigger: p.trigger }));
              }}
            >
              {p.name}
            </button>
          ))}
        </div>
      ) : null}
      <TriggerBuilder
        key={preset ? `preset-${preset.n}` : (existing?.name ?? "new")}
        initial={preset?.trigger ?? existing?.document.trigger ?? null}
        defaultTrigger={action?.default_trigger ?? ""}
        onChange={setTrigger}
      />
      {action ? (
        <MappingEditor
          key={actionKey}
          fields={action.fields}
          values={values}
          onChange={(key, value) => setValues((all) => ({ ...all, [key]: value }))}
        />
      ) : null}
      <SaveError error={error} trigger={trigger} />
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Saving…" : "Save subscription"}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** The server's refusal; for bad FQL, the trigger with a caret under the column it names. */
function SaveError({ error, trigger }: { error: unknown; trigger: string }) {
  if (!(error instanceof ApiError) || error.code !== "invalid_fql") return <ErrorNote error={error} />;
  const details = (error.details ?? {}) as { position?: number; query?: string };
  const query = details.query ?? trigger;
  const position = typeof details.position === "number" ? details.position : null;
  return (
    <div className="fql-error" role="alert">
      <p className="error">The trigger is not valid FQL: {error.message}</p>
      {position !== null ? (
        <pre className="fql-caret">
          {query}
          {"\n"}
          {" ".repeat(position)}^
        </pre>
      ) : null}
    </div>
  );
}
