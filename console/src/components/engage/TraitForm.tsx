// A computed trait's definition as a form.
import { WhereList, WindowInput } from "./fields";
import { TRAIT_KINDS, takesValueType, type TraitDraft } from "./model";

export function TraitForm({ draft, onChange }: { draft: TraitDraft; onChange: (d: TraitDraft) => void }) {
  return (
    <div className="builder">
      <div className="row">
        <label>
          What to compute
          <select value={draft.kind} onChange={(e) => onChange({ ...draft, kind: e.target.value as TraitDraft["kind"] })}>
            {TRAIT_KINDS.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {draft.kind === "aggregation" ? (
          <label>
            Function
            <select
              value={draft.function}
              onChange={(e) => onChange({ ...draft, function: e.target.value as TraitDraft["function"] })}
            >
              <option value="sum">sum</option>
              <option value="avg">average</option>
              <option value="min">minimum</option>
              <option value="max">maximum</option>
            </select>
          </label>
        ) : null}
        {draft.kind !== "event_counter" ? (
          <label>
            Property
            <input value={draft.property} placeholder="total" onChange={(e) => onChange({ ...draft, property: e.target.value })} />
          </label>
        ) : null}
        {takesValueType(draft.kind) ? (
          <label>
            Values are
            <select
              value={draft.valueType}
              onChange={(e) => onChange({ ...draft, valueType: e.target.value as TraitDraft["valueType"] })}
            >
              <option value="string">text</option>
              <option value="number">numbers</option>
            </select>
          </label>
        ) : null}
      </div>
      <div className="row">
        <label>
          Of the event
          <input value={draft.event} placeholder="Order Completed" onChange={(e) => onChange({ ...draft, event: e.target.value })} />
        </label>
        <WindowInput label="Within the last" value={draft.window} onChange={(window) => onChange({ ...draft, window })} />
      </div>
      <WhereList where={draft.where} onChange={(where) => onChange({ ...draft, where })} />
    </div>
  );
}
