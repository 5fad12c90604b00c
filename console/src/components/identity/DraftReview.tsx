// A saved draft of the rules: its preview ("N profiles would merge, M would split", computed on
// a copy, nothing live changes) and Apply, which re-resolves history under it while ingest goes
// on; the progress shows until the version is active (or failed).
import { useEffect, useState } from "react";
import { get, post } from "../../api";
import { ActionButton, Badge, Card, ErrorNote } from "../ui";
import { RULES, type Progress, type RulesPreview, type VersionDetail } from "./model";

// The phases of a re-resolution (ops/identity_reresolve.py), in words.
const PHASES: Record<string, string> = {
  shadow: "Re-resolving history into a new identity graph",
  replay: "Re-resolving history into a new identity graph",
  pause: "Pausing identity resolution for a moment",
  "catch-up": "Catching up with the events that arrived meanwhile",
  swap: "Switching to the new graph",
};

export function DraftReview({ version, onApplied }: { version: VersionDetail; onApplied: () => void }) {
  const [preview, setPreview] = useState<RulesPreview | null>(null);
  const [detail, setDetail] = useState<VersionDetail>(version);
  const applying = detail.state === "applying";

  // While applying, ask for the version's progress every second until it is active or failed.
  useEffect(() => {
    if (!applying) return;
    let stopped = false;
    const timer = setInterval(async () => {
      try {
        const now = await get<VersionDetail>(`${RULES}/${detail.version}`);
        if (stopped) return;
        setDetail(now);
        if (now.state === "active") onApplied();
      } catch {
        // A missed poll is retried by the next tick.
      }
    }, 1000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [applying, detail.version, onApplied]);

  return (
    <Card title={`Draft version ${detail.version}`}>
      <p className="muted small">
        Preview shows what these rules would do to the profiles you have, computed on a copy. Apply re-resolves every
        stored message under them while new events keep arriving, then switches over at once. Unmerges you made are
        kept.
      </p>
      {detail.state === "draft" ? (
        <div className="row">
          <ActionButton
            kind="secondary"
            action={async () => setPreview(await post<RulesPreview>(`${RULES}/${detail.version}/preview`))}
          >
            Preview
          </ActionButton>
          <ActionButton
            confirm={`Apply version ${detail.version}? Every profile is re-resolved under the new rules.`}
            action={async () => {
              const started = await post<{ version: number; state: VersionDetail["state"] }>(
                `${RULES}/${detail.version}/apply`,
              );
              setDetail({ ...detail, state: started.state, progress: null });
            }}
          >
            Apply
          </ActionButton>
        </div>
      ) : null}
      {preview ? <PreviewResult preview={preview} /> : null}
      {applying ? <ApplyProgress progress={detail.progress} /> : null}
      {detail.state === "active" ? (
        <p role="status" className="ok-note">
          Version {detail.version} is active: every profile now follows it.
        </p>
      ) : null}
      {detail.state === "failed" ? (
        <>
          <Badge tone="bad">failed</Badge>
          <ErrorNote error={new Error(detail.error ?? "Applying failed; the rules before stay in force.")} />
        </>
      ) : null}
    </Card>
  );
}

function PreviewResult({ preview }: { preview: RulesPreview }) {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return (
    <section aria-labelledby="preview-title" className="preview">
      <h3 id="preview-title">Preview</h3>
      <p data-testid="preview-summary">
        <strong>
          {plural(preview.merges, "merge", "merges")}, {plural(preview.splits, "split", "splits")}
        </strong>
        : {plural(preview.merges, "group", "groups")} of today’s profiles would become one person
        {preview.merges === 1 ? "" : " each"}, and{" "}
        {plural(preview.splits, "profile", "profiles")} would come apart. {preview.profiles_before} profiles now,{" "}
        {preview.profiles_after} after.
      </p>
      {preview.examples.length === 0 ? (
        <p className="muted small">No profile changes under these rules.</p>
      ) : (
        <table aria-label="Preview examples">
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Profiles today</th>
              <th scope="col">Identifiers involved</th>
            </tr>
          </thead>
          <tbody>
            {preview.examples.map((example, index) => (
              <tr key={index}>
                <td>
                  <Badge tone={example.kind === "merge" ? "warn" : "neutral"}>
                    {example.kind === "merge" ? "would merge" : "would split"}
                  </Badge>
                </td>
                <td className="mono small">{example.profiles.join(", ")}</td>
                <td className="mono small">{example.identifiers.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ApplyProgress({ progress }: { progress: Progress | null }) {
  const label = progress ? (PHASES[progress.phase] ?? progress.phase) : "Starting";
  return (
    <div role="status" className="apply-progress">
      <span>{label}…</span>
      {progress && progress.total > 0 ? (
        <>
          <progress aria-label="Applying the rules" max={progress.total} value={progress.done} />
          <span className="small muted">
            {progress.done} of {progress.total}
          </span>
        </>
      ) : (
        <progress aria-label="Applying the rules" />
      )}
    </div>
  );
}
