// What a user's and a token's forms share: the roles, PII access, the error, submit and cancel.
import { ErrorNote } from "../ui";
import { RolePicker } from "./RolePicker";

export function AccessFields({
  legend,
  idPrefix,
  roles,
  onRoles,
  pii,
  onPii,
  piiLabel,
  error,
  busy,
  submit,
  busyLabel,
  onCancel,
}: {
  legend: string;
  idPrefix: string;
  roles: string[];
  onRoles: (roles: string[]) => void;
  pii: boolean;
  onPii: (pii: boolean) => void;
  piiLabel: string;
  error: unknown;
  busy: boolean;
  submit: string;
  busyLabel: string;
  onCancel: () => void;
}) {
  return (
    <>
      <RolePicker legend={legend} roles={roles} onChange={onRoles} idPrefix={idPrefix} />
      <label className="check">
        <input type="checkbox" checked={pii} onChange={(e) => onPii(e.target.checked)} />
        {piiLabel}
      </label>
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? busyLabel : submit}
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </>
  );
}
