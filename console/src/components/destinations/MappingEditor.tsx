// The mapping editor: every field of the action, its default mapping, and a directive picker
// with the input that directive needs.
import { DIRECTIVES, type Directive, type FieldValue } from "./mapping";
import type { FieldSpec } from "./types";

export function MappingEditor({
  fields,
  values,
  onChange,
}: {
  fields: Record<string, FieldSpec>;
  values: Record<string, FieldValue>;
  onChange: (key: string, value: FieldValue) => void;
}) {
  const entries = Object.entries(fields);
  return (
    <fieldset className="mapping">
      <legend>Mapping: what the action receives</legend>
      {entries.length === 0 ? <p className="muted">This action has no fields.</p> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Default mapping</th>
            <th scope="col">Mapped from</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([key, spec]) => (
            <FieldRow key={key} name={key} spec={spec} value={values[key]} onChange={(v) => onChange(key, v)} />
          ))}
        </tbody>
      </table>
    </fieldset>
  );
}

function FieldRow({
  name,
  spec,
  value,
  onChange,
}: {
  name: string;
  spec: FieldSpec;
  value: FieldValue | undefined;
  onChange: (value: FieldValue) => void;
}) {
  const current = value ?? { directive: "default" as Directive, text: "", then: "", otherwise: "" };
  const hasDefault = spec.default !== null && spec.default !== undefined;
  // The server starts every mapping from the defaults, so a defaulted field cannot be unmapped.
  const choices = DIRECTIVES.filter((d) => (hasDefault ? d.id !== "none" : d.id !== "default"));
  const id = `map-${name}`;
  const set = (change: Partial<FieldValue>) => onChange({ ...current, ...change });
  return (
    <tr>
      <td>
        <strong>{spec.label}</strong>
        {spec.required ? <span className="required"> (required)</span> : null}
        <div className="muted small">
          <code>{name}</code> · {spec.type}
        </div>
        <div className="muted small">{spec.description}</div>
      </td>
      <td>{hasDefault ? <code className="mapping-default">{JSON.stringify(spec.default)}</code> : <span className="muted">—</span>}</td>
      <td className="mapping-value">
        <select aria-label={`${spec.label}: mapped from`} id={id} value={current.directive} onChange={(e) => set({ directive: e.target.value as Directive })}>
            {choices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.label}
              </option>
            ))}
          </select>
        <DirectiveInput label={spec.label} spec={spec} value={current} set={set} />
      </td>
    </tr>
  );
}

function DirectiveInput({
  label,
  spec,
  value,
  set,
}: {
  label: string;
  spec: FieldSpec;
  value: FieldValue;
  set: (change: Partial<FieldValue>) => void;
}) {
  switch (value.directive) {
    case "default":
    case "none":
      return null;
    case "path":
      return (
        <input aria-label={`${label}: path`} type="text" placeholder="$.properties.total" value={value.text} onChange={(e) => set({ text: e.target.value })} />
      );
    case "template":
      return (
        <input aria-label={`${label}: template`}
            type="text"
            placeholder="{{traits.first_name}} {{traits.last_name}}"
            value={value.text}
            onChange={(e) => set({ text: e.target.value })}
          />
      );
    case "if":
      return (
        <div className="stack">
          <label className="small">
            If this path is present
            <input type="text" placeholder="$.userId" value={value.text} onChange={(e) => set({ text: e.target.value })} />
          </label>
          <label className="small">
            then use
            <input type="text" placeholder="$.userId" value={value.then} onChange={(e) => set({ then: e.target.value })} />
          </label>
          <label className="small">
            else use
            <input type="text" placeholder="$.anonymousId" value={value.otherwise} onChange={(e) => set({ otherwise: e.target.value })} />
          </label>
        </div>
      );
    case "json":
      return (
        <textarea aria-label={`${label}: JSON`}
            className="small-code"
            placeholder='{"@case": {"value": {"@path": "$.event"}, "operator": "lower"}}'
            value={value.text}
            onChange={(e) => set({ text: e.target.value })}
          />
      );
    case "literal":
      if (spec.choices && spec.choices.length > 0)
        return (
          <select aria-label={`${label}: value`} value={value.text} onChange={(e) => set({ text: e.target.value })}>
              <option value="">Choose…</option>
              {spec.choices.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
        );
      if (spec.type === "boolean")
        return (
          <select aria-label={`${label}: value`} value={value.text === "true" ? "true" : "false"} onChange={(e) => set({ text: e.target.value })}>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
        );
      if (spec.type === "object")
        return (
          <textarea aria-label={`${label}: JSON value`} className="small-code" value={value.text} onChange={(e) => set({ text: e.target.value })} />
        );
      return (
        <input aria-label={`${label}: value`}
            type={spec.type === "number" || spec.type === "integer" ? "number" : "text"}
            value={value.text}
            onChange={(e) => set({ text: e.target.value })}
          />
      );
  }
}
