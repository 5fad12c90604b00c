// PII matchers, PII controls and consent categories, each a list with a form.
import { Badge } from "../ui";
import { TONE } from "./Inventory";
import { commaList, ResourceSection } from "./ResourceSection";

type Level = "green" | "yellow" | "red";

interface Matcher {
  kind: string;
  classification: Level;
  names: string[];
  name_regex: string | null;
  value_regex: string | null;
}

interface Control {
  control: string;
  kind: string | null;
  classification: Level | null;
  destinations: string[];
}

interface Consent {
  description: string;
  destinations: string[];
}

const KINDS = ["credit_card", "ssn", "iban", "passport", "email", "phone", "ip_address", "name", "address", "birth_date"];
const CONTROLS: Record<string, string> = {
  allow: "Allow (keep as is)",
  hash: "Hash (joinable inside Seamline only)",
  hash_plain: "Hash as ad platforms match (SHA-256)",
  mask: "Mask (keep the last characters)",
  drop: "Drop the field",
  block: "Block the whole event",
};

function LevelSelect({ value, onChange, label }: { value: Level | null; onChange: (level: Level) => void; label: string }) {
  return (
    <label>
      {label}
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value as Level)}>
        <option value="" disabled>
          Choose
        </option>
        <option value="red">Red (must never leave unprotected)</option>
        <option value="yellow">Yellow (personal data)</option>
        <option value="green">Green (not personal)</option>
      </select>
    </label>
  );
}

export function PiiMatchers() {
  return (
    <ResourceSection<Matcher>
      segment="pii-matchers"
      title="PII matchers"
      noun="matcher"
      intro="Built-in matchers find cards, SSNs, IBANs, emails, phones, IPs, names, addresses and birth dates. Add your own kind of personal data by field name or value pattern."
      empty="No custom matchers: the built-in ones apply."
      blank={{ kind: "", classification: "yellow", names: [], name_regex: null, value_regex: null }}
      columns={[
        { label: "Kind", show: (m) => <code>{m.kind}</code> },
        { label: "Classification", show: (m) => <Badge tone={TONE[m.classification]}>{m.classification}</Badge> },
        { label: "Field names", show: (m) => m.names.join(", ") || (m.name_regex ? <code>{m.name_regex}</code> : "—") },
        { label: "Value pattern", show: (m) => (m.value_regex ? <code>{m.value_regex}</code> : "—") },
      ]}
      fields={({ value, onChange }) => (
        <>
          <label>
            Kind of data
            <input value={value.kind} placeholder="loyalty_id" onChange={(e) => onChange({ ...value, kind: e.target.value })} />
          </label>
          <LevelSelect label="Classification" value={value.classification} onChange={(c) => onChange({ ...value, classification: c })} />
          <label>
            Field names (comma-separated)
            <input value={value.names.join(", ")} onChange={(e) => onChange({ ...value, names: commaList(e.target.value) })} />
          </label>
          <label>
            Field name pattern (regular expression)
            <input value={value.name_regex ?? ""} onChange={(e) => onChange({ ...value, name_regex: e.target.value || null })} />
          </label>
          <label>
            Value pattern (regular expression)
            <input value={value.value_regex ?? ""} placeholder="LY-\d{6}" onChange={(e) => onChange({ ...value, value_regex: e.target.value || null })} />
          </label>
        </>
      )}
    />
  );
}

export function PiiControls() {
  return (
    <ResourceSection<Control>
      segment="pii-controls"
      title="PII controls"
      noun="control"
      intro="A control decides what happens to the fields of one kind or classification: before anything is stored, or only on the way to the destinations you list (* for all)."
      empty="No controls yet: personal data is stored and sent as it arrives."
      blank={{ control: "mask", kind: "email", classification: null, destinations: [] }}
      columns={[
        {
          label: "Applies to",
          show: (c) => (c.kind ? <code>{c.kind}</code> : <Badge tone={TONE[c.classification ?? "green"]}>{c.classification}</Badge>),
        },
        { label: "Control", show: (c) => CONTROLS[c.control] ?? c.control },
        { label: "Where", show: (c) => (c.destinations.length ? `Sent to ${c.destinations.join(", ")}` : "Before storage") },
      ]}
      fields={({ value, onChange }) => (
        <>
          <label>
            Applies to
            <select
              value={value.kind !== null ? "kind" : "classification"}
              onChange={(e) =>
                onChange(
                  e.target.value === "kind"
                    ? { ...value, kind: "email", classification: null }
                    : { ...value, kind: null, classification: "red" },
                )
              }
            >
              <option value="kind">One kind of data</option>
              <option value="classification">A classification</option>
            </select>
          </label>
          {value.kind !== null ? (
            <label>
              Kind of data
              <input list="pii-kinds" value={value.kind} onChange={(e) => onChange({ ...value, kind: e.target.value })} />
              <datalist id="pii-kinds">
                {KINDS.map((k) => (
                  <option key={k} value={k} />
                ))}
              </datalist>
            </label>
          ) : (
            <LevelSelect label="Classification" value={value.classification} onChange={(c) => onChange({ ...value, classification: c })} />
          )}
          <label>
            Control
            <select value={value.control} onChange={(e) => onChange({ ...value, control: e.target.value })}>
              {Object.entries(CONTROLS).map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Only for these destinations (comma-separated; empty: before storage)
            <input value={value.destinations.join(", ")} onChange={(e) => onChange({ ...value, destinations: commaList(e.target.value) })} />
          </label>
        </>
      )}
    />
  );
}

export function ConsentCategories() {
  return (
    <ResourceSection<Consent>
      segment="consent-categories"
      title="Consent categories"
      noun="category"
      intro="An event reaches a destination only if it consents to every category that destination is in (context.consent.categoryPreferences). Events without consent information are not filtered."
      empty="No consent categories: every destination receives every event."
      blank={{ description: "", destinations: [] }}
      columns={[
        { label: "Description", show: (c) => c.description || "—" },
        { label: "Destinations", show: (c) => c.destinations.join(", ") || "—" },
      ]}
      fields={({ value, onChange }) => (
        <>
          <label>
            Description
            <input value={value.description} onChange={(e) => onChange({ ...value, description: e.target.value })} />
          </label>
          <label>
            Destinations it covers (comma-separated)
            <input value={value.destinations.join(", ")} onChange={(e) => onChange({ ...value, destinations: commaList(e.target.value) })} />
          </label>
        </>
      )}
    />
  );
}
