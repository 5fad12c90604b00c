// A destination's settings form, generated from its catalog definition: one input per setting,
// typed by the definition. Secrets are write-only: never prefilled, and left blank on an edit
// they are sent back as "[secret]", which tells the server to keep the stored value.
import { useState, type FormEvent, type ReactNode } from "react";
import { ErrorNote } from "../ui";
import { HIDDEN, type CatalogEntry, type SettingSpec } from "./types";

type Values = Record<string, string | boolean>;

function initial(entry: CatalogEntry, stored: Record<string, unknown>): Values {
  const values: Values = {};
  for (const [key, spec] of Object.entries(entry.settings)) {
    const value = stored[key] ?? (spec.secret ? undefined : spec.default);
    if (spec.type === "boolean") values[key] = value === true;
    else if (spec.secret || value === undefined || value === null) values[key] = "";
    else if (spec.type === "object") values[key] = JSON.stringify(value, null, 2);
    else values[key] = String(value);
  }
  return values;
}

/** The settings to send from the form's values; throws a readable Error for bad input. */
function collect(entry: CatalogEntry, values: Values, stored: Record<string, unknown>): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(entry.settings)) {
    const value = values[key];
    if (spec.type === "boolean") {
      settings[key] = value === true;
      continue;
    }
    const text = String(value ?? "").trim();
    if (text === "") {
      if (spec.secret && stored[key] === HIDDEN) settings[key] = HIDDEN;
      continue;
    }
    if (spec.type === "number") {
      const number = Number(text);
      if (Number.isNaN(number)) throw new Error(`${spec.label} must be a number`);
      settings[key] = number;
    } else if (spec.type === "object") {
      try {
        settings[key] = JSON.parse(text);
      } catch {
        throw new Error(`${spec.label} must be JSON`);
      }
    } else settings[key] = spec.secret ? String(value) : text;
  }
  return settings;
}

export function SettingsForm({
  entry,
  stored = {},
  submitLabel,
  onSubmit,
  children,
  idPrefix,
}: {
  entry: CatalogEntry;
  stored?: Record<string, unknown>;
  submitLabel: string;
  onSubmit: (settings: Record<string, unknown>) => Promise<unknown>;
  children?: ReactNode;
  idPrefix: string;
}) {
  const [values, setValues] = useState<Values>(() => initial(entry, stored));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(collect(entry, values, stored));
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  const settings = Object.entries(entry.settings);
  return (
    <form className="form destination-settings" onSubmit={submit}>
      {children}
      {settings.length === 0 ? <p className="muted">{entry.name} has no settings.</p> : null}
      {settings.map(([key, spec]) => (
        <SettingInput
          key={key}
          id={`${idPrefix}-${key}`}
          name={key}
          spec={spec}
          storedSecret={spec.secret && stored[key] === HIDDEN}
          value={values[key]}
          onChange={(value) => setValues((all) => ({ ...all, [key]: value }))}
        />
      ))}
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Saving…" : submitLabel}
        </button>
      </div>
    </form>
  );
}

function SettingInput({
  id,
  name,
  spec,
  storedSecret,
  value,
  onChange,
}: {
  id: string;
  name: string;
  spec: SettingSpec;
  storedSecret: boolean;
  value: string | boolean;
  onChange: (value: string | boolean) => void;
}) {
  const help = `${id}-help`;
  const label = (
    <>
      {spec.label}
      {spec.required ? <span className="required"> (required)</span> : null}
      {spec.secret ? <span className="muted small"> · secret</span> : null}
    </>
  );
  if (spec.type === "boolean")
    return (
      <div className="setting">
        <label className="check" htmlFor={id}>
          <input id={id} name={name} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} aria-describedby={help} />
          {label}
        </label>
        <p id={help} className="muted small">
          {spec.description}
        </p>
      </div>
    );
  const note = storedSecret ? "A value is stored. Leave blank to keep it; type a new one to replace it." : "";
  return (
    <div className="setting">
      <label htmlFor={id}>{label}</label>
      {spec.type === "object" ? (
        <textarea id={id} name={name} value={String(value)} onChange={(e) => onChange(e.target.value)} aria-describedby={help} />
      ) : (
        <input
          id={id}
          name={name}
          type={spec.secret ? "password" : spec.type === "number" ? "number" : "text"}
          // A password manager must not offer a saved login here, and nothing is prefilled.
          autoComplete={spec.secret ? "new-password" : "off"}
          required={spec.required && !storedSecret}
          placeholder={storedSecret ? "•••••• (stored)" : undefined}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
          aria-describedby={help}
        />
      )}
      <p id={help} className="muted small">
        {spec.description} {note}
      </p>
    </div>
  );
}
