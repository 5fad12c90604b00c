// Small inputs the audience builder and the computed-trait form share.
import { OPERATORS, takesValue, type Compare, type Unit, type Window } from "./model";

export function WindowInput({
  label,
  value,
  onChange,
  allTime = "all time",
}: {
  label: string;
  value: Window;
  onChange: (w: Window) => void;
  allTime?: string;
}) {
  return (
    <span className="window-input">
      <label>
        {label}
        <input
          type="number"
          min={1}
          inputMode="numeric"
          value={value.amount}
          placeholder={allTime}
          onChange={(e) => onChange({ ...value, amount: e.target.value })}
        />
      </label>
      <label>
        <span className="visually-hidden">{label} unit</span>
        <select value={value.unit} onChange={(e) => onChange({ ...value, unit: e.target.value as Unit })}>
          <option value="d">days</option>
          <option value="h">hours</option>
          <option value="m">minutes</option>
        </select>
      </label>
    </span>
  );
}

export function CompareInputs({
  subjectLabel,
  value,
  onChange,
}: {
  subjectLabel: string;
  value: Compare;
  onChange: (c: Compare) => void;
}) {
  return (
    <>
      <label>
        {subjectLabel}
        <input value={value.subject} onChange={(e) => onChange({ ...value, subject: e.target.value })} />
      </label>
      <label>
        Operator
        <select value={value.op} onChange={(e) => onChange({ ...value, op: e.target.value })}>
          {OPERATORS.map((op) => (
            <option key={op.id} value={op.id}>
              {op.label}
            </option>
          ))}
        </select>
      </label>
      {takesValue(value.op) ? (
        <label>
          Value
          <input value={value.value} onChange={(e) => onChange({ ...value, value: e.target.value })} />
        </label>
      ) : null}
    </>
  );
}

/** Property conditions on an event ("where total ≥ 20"). */
export function WhereList({ where, onChange }: { where: Compare[]; onChange: (w: Compare[]) => void }) {
  return (
    <div className="where">
      {where.map((compare, i) => (
        <div className="row where-row" key={i}>
          <span className="muted small">{i === 0 ? "where" : "and"}</span>
          <CompareInputs
            subjectLabel="Property"
            value={compare}
            onChange={(c) => onChange(where.map((old, j) => (j === i ? c : old)))}
          />
          <button
            type="button"
            className="button secondary small"
            aria-label={`Remove property condition ${i + 1}`}
            onClick={() => onChange(where.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="button secondary small"
        onClick={() => onChange([...where, { subject: "", op: "=", value: "" }])}
      >
        Add property condition
      </button>
    </div>
  );
}
