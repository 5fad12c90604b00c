// Roles as checkboxes, with what each one lets a person do. A role scoped to listed resources
// (`source-admin:Website`) is kept as written and can be unticked.

/** The roles of src/seamline/access/principal.py, in plain words. */
export const ROLES: { id: string; label: string }[] = [
  { id: "workspace-owner", label: "Workspace owner — everything, including users, tokens and the audit trail" },
  { id: "source-admin", label: "Source admin — edit sources and destinations" },
  { id: "source-read-only", label: "Source read-only — see sources, destinations and data quality" },
  { id: "tracking-plan-admin", label: "Tracking plan admin — edit tracking plans and transformations" },
  { id: "tracking-plan-read-only", label: "Tracking plan read-only" },
  { id: "function-admin", label: "Function admin — edit functions" },
  { id: "function-read-only", label: "Function read-only" },
  { id: "unify-engage-admin", label: "Unify and Engage admin — audiences, computed traits, identity" },
  { id: "unify-engage-read-only", label: "Unify and Engage read-only" },
  { id: "unify-read-only", label: "Unify read-only — see profiles" },
  { id: "identity-admin", label: "Identity admin — merge and unmerge profiles" },
  { id: "privacy-admin", label: "Privacy admin — PII, consent, retention and regulations" },
];

export function RolePicker({
  legend,
  roles,
  onChange,
  idPrefix,
}: {
  legend: string;
  roles: string[];
  onChange: (roles: string[]) => void;
  idPrefix: string;
}) {
  const known = new Set(ROLES.map((r) => r.id));
  const scoped = roles.filter((r) => !known.has(r));
  const toggle = (role: string, on: boolean) =>
    onChange(on ? [...roles.filter((r) => r !== role), role] : roles.filter((r) => r !== role));
  return (
    <fieldset className="roles">
      <legend>{legend}</legend>
      {ROLES.map((role) => (
        <label key={role.id} className="check" htmlFor={`${idPrefix}-${role.id}`}>
          <input
            id={`${idPrefix}-${role.id}`}
            type="checkbox"
            name={`${idPrefix}-role`}
            value={role.id}
            checked={roles.includes(role.id)}
            onChange={(e) => toggle(role.id, e.target.checked)}
          />
          {role.label}
        </label>
      ))}
      {scoped.map((role) => (
        <label key={role} className="check" htmlFor={`${idPrefix}-${role}`}>
          <input id={`${idPrefix}-${role}`} type="checkbox" checked onChange={() => toggle(role, false)} />
          {role} <span className="muted small">(limited to the resources named)</span>
        </label>
      ))}
    </fieldset>
  );
}
