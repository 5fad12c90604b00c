// The editor of identity rules (identity:write): each type's priority, limit and window, the
// blocked values and patterns, and custom types, saved as a draft version. Nothing changes
// until the draft is previewed and applied (DraftReview).
import { useState } from "react";
import { put } from "../../api";
import { ActionButton, Card } from "../ui";
import { Explanation } from "./RulesTable";
import {
  RULES,
  WINDOW_UNITS,
  formFrom,
  toDocument,
  type RulesDocument,
  type RulesForm,
  type TypeRow,
  type VersionDetail,
  type WindowUnit,
} from "./model";

export function RulesEditor({
  start,
  defaults,
  onSaved,
}: {
  start: RulesDocument;
  defaults: RulesDocument;
  onSaved: (draft: VersionDetail) => void;
}) {
  const [form, setForm] = useState<RulesForm>(() => formFrom(start, defaults));
  const setType = (index: number, change: Partial<TypeRow>) =>
    setForm({ ...form, types: form.types.map((row, i) => (i === index ? { ...row, ...change } : row)) });
  return (
    <Card title="Change the rules">
      <p className="muted small">
        Saving makes a draft. Nothing changes for your profiles until you preview the draft and apply it.
      </p>
      <Explanation />
      <table aria-label="Edit identifier types" className="editor">
        <thead>
          <tr>
            <th scope="col">Identifier type</th>
            <th scope="col">Priority</th>
            <th scope="col">Limit per profile (empty: no limit)</th>
            <th scope="col">Counted over the last (empty: any time)</th>
            <th scope="col">
              <span className="visually-hidden">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {form.types.map((row, index) => (
            <tr key={index}>
              <th scope="row">
                {row.builtIn ? (
                  <span className="mono">{row.name}</span>
                ) : (
                  <input
                    aria-label={`Name of new type ${index + 1}`}
                    value={row.name}
                    onChange={(e) => setType(index, { name: e.target.value })}
                  />
                )}
              </th>
              <td>
                <input
                  className="narrow"
                  type="number"
                  min={1}
                  aria-label={`Priority of ${row.name || "the new type"}`}
                  value={row.priority}
                  onChange={(e) => setType(index, { priority: e.target.value })}
                />
              </td>
              <td>
                <input
                  className="narrow"
                  type="number"
                  min={1}
                  aria-label={`Limit of ${row.name || "the new type"}`}
                  value={row.limit}
                  onChange={(e) => setType(index, { limit: e.target.value })}
                />
              </td>
              <td>
                <span className="row">
                  <input
                    className="narrow"
                    type="number"
                    min={0}
                    aria-label={`Window of ${row.name || "the new type"}`}
                    value={row.window}
                    onChange={(e) => setType(index, { window: e.target.value })}
                  />
                  <select
                    aria-label={`Window unit of ${row.name || "the new type"}`}
                    value={row.unit}
                    onChange={(e) => setType(index, { unit: e.target.value as WindowUnit })}
                  >
                    {WINDOW_UNITS.map((u) => (
                      <option key={u.id} value={u.id}>
                        {u.label}
                      </option>
                    ))}
                  </select>
                </span>
              </td>
              <td>
                {row.builtIn ? null : (
                  <button
                    type="button"
                    className="button secondary"
                    aria-label={`Remove rule of ${row.name || "the new type"}`}
                    onClick={() => setForm({ ...form, types: form.types.filter((_, i) => i !== index) })}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button
          type="button"
          className="button secondary"
          onClick={() =>
            setForm({
              ...form,
              types: [...form.types, { name: "", priority: String(nextPriority(form)), limit: "5", window: "", unit: "days", builtIn: false }],
            })
          }
        >
          Add a rule for another type
        </button>
      </p>
      <div className="grid">
        <ValueList
          title="Never identifiers"
          help="Values such as “null” or a test address that must never join two people. Compared ignoring case."
          add="Add blocked value"
          values={form.blocked}
          onChange={(blocked) => setForm({ ...form, blocked })}
        />
        <ValueList
          title="Blocked patterns"
          help="Regular expressions: a value that matches one whole is never an identifier (e.g. ^0+$ for all zeros)."
          add="Add blocked pattern"
          values={form.patterns}
          onChange={(patterns) => setForm({ ...form, patterns })}
        />
      </div>
      <CustomTypes form={form} setForm={setForm} />
      <div className="row">
        <ActionButton
          action={async () => {
            const saved = await put<VersionDetail>(RULES, { document: toDocument(form, defaults) });
            onSaved(saved);
          }}
        >
          Save draft
        </ActionButton>
      </div>
    </Card>
  );
}

function nextPriority(form: RulesForm): number {
  const taken = form.types.map((row) => Number(row.priority)).filter((n) => Number.isFinite(n));
  return Math.max(0, ...taken) + 1;
}

/** A list of text values with Remove on each and a field to add one (the empty value too). */
function ValueList({
  title,
  help,
  add,
  values,
  onChange,
}: {
  title: string;
  help: string;
  add: string;
  values: string[];
  onChange: (values: string[]) => void;
}) {
  const [draft, setDraft] = useState("");
  return (
    <fieldset>
      <legend>{title}</legend>
      <p className="muted small">{help}</p>
      <ul className="chips" aria-label={title}>
        {values.map((value, index) => (
          <li key={`${value}-${index}`}>
            <span className="mono">{value === "" ? "(empty)" : value}</span>
            <button
              type="button"
              className="chip-remove"
              aria-label={`Remove ${value === "" ? "the empty value" : value}`}
              onClick={() => onChange(values.filter((_, i) => i !== index))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          if (!values.includes(draft)) onChange([...values, draft]);
          setDraft("");
        }}
      >
        <input aria-label={add} value={draft} onChange={(e) => setDraft(e.target.value)} />
        <button type="submit" className="button secondary">
          {add}
        </button>
      </form>
    </fieldset>
  );
}

function CustomTypes({ form, setForm }: { form: RulesForm; setForm: (form: RulesForm) => void }) {
  const set = (index: number, change: Partial<{ name: string; path: string }>) =>
    setForm({ ...form, custom: form.custom.map((c, i) => (i === index ? { ...c, ...change } : c)) });
  return (
    <fieldset>
      <legend>Custom identifier types</legend>
      <p className="muted small">
        Read an identifier from a field of every message, e.g. <span className="mono">customer_number</span> from{" "}
        <span className="mono">properties.customer_number</span>. Without a rule of its own it ranks after the built-in
        types.
      </p>
      {form.custom.map((c, index) => (
        <div className="row" key={index}>
          <label>
            Type name
            <input value={c.name} onChange={(e) => set(index, { name: e.target.value })} />
          </label>
          <label>
            Read from field
            <input value={c.path} placeholder="traits.member_id" onChange={(e) => set(index, { path: e.target.value })} />
          </label>
          <button
            type="button"
            className="button secondary"
            aria-label={`Remove custom type ${c.name || index + 1}`}
            onClick={() => setForm({ ...form, custom: form.custom.filter((_, i) => i !== index) })}
          >
            Remove
          </button>
        </div>
      ))}
      <p>
        <button
          type="button"
          className="button secondary"
          onClick={() => setForm({ ...form, custom: [...form.custom, { name: "", path: "" }] })}
        >
          Add a custom type
        </button>
      </p>
    </fieldset>
  );
}
