// The form that creates a source; the new source's page opens with its key and snippets.
import { useState, type FormEvent } from "react";
import { post } from "../../api";
import { navigate } from "../../router";
import { ErrorNote } from "../ui";
import type { SourceView } from "./types";

export function CreateSource() {
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await post<{ data: SourceView }>("/api/v1/sources", { name });
      navigate(`/sources/${encodeURIComponent(made.data.id)}?created=1`);
    } catch (failed) {
      setError(failed);
      setBusy(false);
    }
  }
  return (
    <form className="card" onSubmit={create} aria-labelledby="create-source-title">
      <h2 id="create-source-title">Create a source</h2>
      <p className="muted small">A source is one place events come from: a website, an app, a server.</p>
      <div className="row align-end">
        <label>
          New source name
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. Website"
            required
            maxLength={200}
          />
        </label>
        <button type="submit" className="button primary" disabled={busy || name.trim() === ""}>
          {busy ? "Creating…" : "Create source"}
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
