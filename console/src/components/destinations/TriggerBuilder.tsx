// The trigger builder: conditions a person picks (type is, event is, property conditions),
// joined by "all" (and) or "any" (or), written out as FQL and shown; or FQL typed by hand.
import { useEffect, useState } from "react";
import { Tabs } from "../ui";
import { OPERATORS, SUBJECTS, TYPES, triggerFql, type Condition, type Operator, type Subject } from "./fql";

export type TriggerMode = "builder" | "fql";

export function TriggerBuilder({
  initial,
  defaultTrigger,
  onChange,
}: {
  initial: string | null;
  defaultTrigger: string;
  onChange: (fql: string) => void;
}) {
  // A stored trigger opens as text: FQL is richer than the builder, so it is not parsed back.
  const [mode, setMode] = useState<TriggerMode>(initial ? "fql" : "builder");
  const [conditions, setConditions] = useState<Condition[]>([]);
  const [combinator, setCombinator] = useState<"and" | "or">("and");
  const [raw, setRaw] = useState(initial ?? "");
  const written = triggerFql(conditions, combinator);
  const current = mode === "builder" ? written : raw;
  useEffect(() => onChange(current), [current, onChange]);

  const update = (index: number, change: Partial<Condition>) =>
    setConditions((all) => all.map((c, i) => (i === index ? { ...c, ...change } : c)));

  return (
    <fieldset className="trigger">
      <legend>Trigger: which events this subscription sends</legend>
      <Tabs
        label="How to write the trigger"
        tabs={[
          { id: "builder", label: "Builder" },
          { id: "fql", label: "FQL" },
        ]}
        current={mode}
        onChange={(next) => {
          if (next === "fql" && mode === "builder") setRaw(written);
          setMode(next);
        }}
      />
      {mode === "builder" ? (
        <div className="conditions">
          {conditions.length > 1 ? (
            <label className="inline">
              Send an event when it matches
              <select value={combinator} onChange={(e) => setCombinator(e.target.value as "and" | "or")}>
                <option value="and">all of these conditions</option>
                <option value="or">any of these conditions</option>
              </select>
            </label>
          ) : null}
          {conditions.map((condition, index) => (
            <ConditionRow
              key={index}
              index={index}
              condition={condition}
              onChange={(change) => update(index, change)}
              onRemove={() => setConditions((all) => all.filter((_, i) => i !== index))}
            />
          ))}
          <div className="row">
            <button
              type="button"
              className="button secondary"
              onClick={() =>
                setConditions((all) => [...all, { subject: "type", path: "", operator: "=", value: "track" }])
              }
            >
              Add condition
            </button>
          </div>
        </div>
      ) : (
        <label>
          FQL trigger
          <textarea
            className="fql"
            name="trigger"
            value={raw}
            spellCheck={false}
            onChange={(e) => setRaw(e.target.value)}
            placeholder='type = "track" and event = "Order Completed"'
          />
        </label>
      )}
      <div className="fql-written">
        <span className="muted small">{mode === "builder" ? "FQL written by the builder:" : "The trigger:"}</span>{" "}
        {current ? (
          <code data-testid="trigger-fql">{current}</code>
        ) : (
          <span className="muted small">
            none — the action's default trigger applies: <code>{defaultTrigger}</code>
          </span>
        )}
      </div>
    </fieldset>
  );
}

function ConditionRow({
  index,
  condition,
  onChange,
  onRemove,
}: {
  index: number;
  condition: Condition;
  onChange: (change: Partial<Condition>) => void;
  onRemove: () => void;
}) {
  const n = index + 1;
  const needsPath = condition.subject === "property" || condition.subject === "trait" || condition.subject === "context";
  const needsValue = condition.operator !== "exists" && condition.operator !== "missing";
  return (
    <div className="condition row" role="group" aria-label={`Condition ${n}`}>
      <select aria-label={`Condition ${n}: field`}
          value={condition.subject}
          onChange={(e) => {
            const subject = e.target.value as Subject;
            onChange({ subject, value: subject === "type" ? "track" : "", operator: "=" });
          }}
        >
          {SUBJECTS.map((s) => (
            <option key={s.id} value={s.id}>
              {s.label}
            </option>
          ))}
        </select>
      {needsPath ? (
        <input aria-label={`Condition ${n}: name`}
            type="text"
            placeholder={condition.subject === "context" ? "page.path" : "total"}
            value={condition.path}
            onChange={(e) => onChange({ path: e.target.value })}
          />
      ) : null}
      {condition.subject === "type" ? (
        <select aria-label={`Condition ${n}: type`} value={condition.value} onChange={(e) => onChange({ value: e.target.value, operator: "=" })}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
      ) : (
        <>
          <select aria-label={`Condition ${n}: comparison`} value={condition.operator} onChange={(e) => onChange({ operator: e.target.value as Operator })}>
              {OPERATORS.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.label}
                </option>
              ))}
            </select>
          {needsValue ? (
            <input aria-label={`Condition ${n}: value`}
                type="text"
                value={condition.value}
                placeholder={condition.subject === "event" ? "Order Completed" : "value"}
                onChange={(e) => onChange({ value: e.target.value })}
              />
          ) : null}
        </>
      )}
      <button type="button" className="button secondary" onClick={onRemove} aria-label={`Remove condition ${n}`}>
        Remove
      </button>
    </div>
  );
}
