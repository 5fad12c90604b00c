// The Rules tab: the rules in force, the editor and the draft under review (identity:write),
// and every version with its state.
import { useCallback, useState } from "react";
import { get } from "../../api";
import { useGet } from "../../hooks";
import { Can } from "../../session";
import { ActionButton, Badge, Card, ErrorNote, Loading, Time } from "../ui";
import { DraftReview } from "./DraftReview";
import { RulesEditor } from "./RulesEditor";
import { RulesInForce } from "./RulesTable";
import { RULES, type RulesState, type VersionDetail, type VersionState } from "./model";

const TONES: Record<VersionState, "good" | "bad" | "warn" | "neutral"> = {
  active: "good",
  applying: "warn",
  draft: "neutral",
  superseded: "neutral",
  failed: "bad",
};

export function RulesTab() {
  const state = useGet<RulesState>(RULES);
  const [draft, setDraft] = useState<VersionDetail | null>(null);
  const applied = useCallback(() => state.reload(), [state.reload]);
  if (state.data === undefined) return state.error ? <ErrorNote error={state.error} /> : <Loading />;
  const data = state.data;
  return (
    <>
      <RulesInForce state={data} />
      <Can permission="identity:write">
        {/* A new editor once the rules in force have changed (and been read), to start from them. */}
        <RulesEditor
          key={data.active?.version ?? 0}
          start={data.active?.document ?? data.defaults}
          defaults={data.defaults}
          onSaved={(saved) => {
            setDraft(saved);
            state.reload();
          }}
        />
        {draft ? <DraftReview key={draft.version} version={draft} onApplied={applied} /> : null}
      </Can>
      <Card title="Versions">
        <table aria-label="Rules versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Saved</th>
              <th scope="col">By</th>
              <th scope="col">Active since</th>
              <Can permission="identity:write">
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </Can>
            </tr>
          </thead>
          <tbody>
            {data.versions.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No versions yet: the default rules are in force.
                </td>
              </tr>
            ) : null}
            {data.versions.map((v) => (
              <tr key={v.version}>
                <td>{v.version}</td>
                <td>
                  <Badge tone={TONES[v.state] ?? "neutral"}>{v.state}</Badge>
                </td>
                <td>
                  <Time at={v.created_at} />
                </td>
                <td>{v.created_by ?? "—"}</td>
                <td>
                  <Time at={v.activated_at} />
                </td>
                <Can permission="identity:write">
                  <td>
                    {v.state === "draft" || v.state === "applying" ? (
                      <ActionButton
                        kind="secondary"
                        aria-label={`Review version ${v.version}`}
                        action={async () => setDraft(await get<VersionDetail>(`${RULES}/${v.version}`))}
                      >
                        {v.state === "draft" ? "Preview or apply" : "Show progress"}
                      </ActionButton>
                    ) : null}
                  </td>
                </Can>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </>
  );
}
