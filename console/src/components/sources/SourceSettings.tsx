// Rename a source, and disable or enable it: only for who may change it.
import { useState, type FormEvent } from "react";
import { patch } from "../../api";
import { ActionButton, Badge, Card, ErrorNote } from "../ui";
import { sourcePath, type SourceView } from "./types";

export function SourceStatus({ enabled }: { enabled: boolean }) {
  return enabled ? <Badge tone="good">Enabled</Badge> : <Badge tone="bad">Disabled</Badge>;
}

export function SourceSettings({ source, onChanged }: { source: SourceView; onChanged: (next: SourceView) => void }) {
  const [name, setName] = useState(source.name);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState("");
  async function rename(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const answer = await patch<{ data: SourceView }>(sourcePath(source.id), { name });
      onChanged(answer.data);
      setSaved(`Renamed to ${answer.data.name}.`);
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Card title="Settings">
      <form className="row align-end" onSubmit={rename}>
        <label>
          Source name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </label>
        <button type="submit" className="button primary" disabled={busy || name.trim() === source.name}>
          {busy ? "Saving…" : "Rename"}
        </button>
      </form>
      <ErrorNote error={error} />
      {saved ? (
        <p className="notice" role="status">
          {saved}
        </p>
      ) : null}
      <div className="row">
        <span>
          Status: <SourceStatus enabled={source.enabled} />
        </span>
        <ActionButton
          kind={source.enabled ? "danger" : "primary"}
          action={async () => {
            const answer = await patch<{ data: SourceView }>(sourcePath(source.id), { enabled: !source.enabled });
            onChanged(answer.data);
          }}
        >
          {source.enabled ? "Disable source" : "Enable source"}
        </ActionButton>
      </div>
      <p className="muted small">
        {source.enabled
          ? "Disabling refuses every call sent with this source's key (401) until you enable it again."
          : "This source is disabled: calls sent with its key are refused (401)."}
      </p>
    </Card>
  );
}
