// The workspace's retention of the log and the event store (docs/privacy.md#retention).
import { useEffect, useState } from "react";
import { put } from "../../api";
import { useGet } from "../../hooks";
import { Can } from "../../session";
import { ActionButton, Card, ErrorNote, Loading, Time } from "../ui";

interface RetentionState {
  retention: string;
  choices: string[];
  lastRun: {
    ran_at: string;
    log_records: number;
    events: number;
  } | null;
}

const WORDS: Record<string, string> = {
  "30d": "30 days",
  "90d": "90 days",
  "180d": "180 days",
  "365d": "1 year",
  "3y": "3 years",
  unlimited: "Keep everything (unlimited)",
};

export function Retention() {
  const state = useGet<RetentionState>("/api/v1/retention");
  const [choice, setChoice] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    if (state.data) setChoice(state.data.retention);
  }, [state.data]);
  return (
    <Card title="Data retention">
      <p className="muted small">
        How long messages stay in the log and the event store, counted from when they were received. Profiles, traits
        and audiences are kept.
      </p>
      <ErrorNote error={state.error} />
      {state.data === undefined ? (
        <Loading />
      ) : (
        <>
          <p>
            Current setting: <strong data-testid="retention-current">{WORDS[state.data.retention] ?? state.data.retention}</strong>
          </p>
          <Can permission="privacy:write">
            <div className="row">
              <label>
                Keep messages for
                <select name="retention" value={choice} onChange={(e) => setChoice(e.target.value)}>
                  {state.data.choices.map((c) => (
                    <option key={c} value={c}>
                      {WORDS[c] ?? c}
                    </option>
                  ))}
                </select>
              </label>
              <ActionButton
                disabled={choice === state.data.retention}
                confirm={
                  choice === "unlimited"
                    ? undefined
                    : `Keep messages for ${WORDS[choice] ?? choice}? Older ones are deleted at the next expiry run.`
                }
                action={async () => {
                  const answer = await put<{ retention: string }>("/api/v1/retention", { retention: choice });
                  setSaved(answer.retention);
                  state.reload();
                }}
              >
                Save retention
              </ActionButton>
            </div>
          </Can>
          {saved ? <p role="status">Retention set to {WORDS[saved] ?? saved}.</p> : null}
          <p className="muted small">
            Last expiry run:{" "}
            {state.data.lastRun ? (
              <>
                <Time at={state.data.lastRun.ran_at} /> — removed {state.data.lastRun.log_records} log records and{" "}
                {state.data.lastRun.events} stored events
              </>
            ) : (
              "not yet"
            )}
          </p>
        </>
      )}
    </Card>
  );
}
