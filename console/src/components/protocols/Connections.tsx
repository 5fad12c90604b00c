// Source connections: which tracking plan checks each source, Segment's schema controls (what
// happens to what does not match) and naming conventions, as a form per source.
import { useEffect, useState } from "react";
import { put } from "../../api";
import { useGet } from "../../hooks";
import { useCan } from "../../session";
import { ActionButton, Card, Empty, ErrorNote, Loading } from "../ui";

interface Connection {
  tracking_plan: string | null;
  schema_controls: Record<string, string>;
  naming: { events?: string | null; properties?: string | null; traits?: string | null; mode?: string } | null;
}

const CONTROLS: { key: string; label: string; options: string[] }[] = [
  { key: "unplanned_events", label: "Events not in the plan", options: ["allow", "block", "quarantine"] },
  { key: "violations", label: "Events that break the plan", options: ["allow", "omit", "block", "quarantine"] },
  { key: "unplanned_properties", label: "Properties not in the plan", options: ["allow", "omit"] },
  { key: "unplanned_traits", label: "Traits not in the plan", options: ["allow", "omit"] },
  { key: "trait_violations", label: "Identify/group calls that break the plan", options: ["allow", "omit", "block", "quarantine"] },
];
const CASES = ["object_action", "title_case", "snake_case", "camel_case", "pascal_case", "kebab_case"];
const WORDS: Record<string, string> = {
  allow: "Allow (record violations)",
  omit: "Omit the offending fields",
  block: "Block (hold)",
  quarantine: "Quarantine (hold for re-run)",
};

export function Connections() {
  const sources = useGet<{ data: { id: string; name: string }[] }>("/api/v1/sources");
  const connections = useGet<{ data: { name: string; document: Connection }[] }>("/api/v1/source-connections");
  const plans = useGet<{ data: { name: string }[] }>("/api/v1/tracking-plans");
  if ((sources.loading && !sources.data) || (connections.loading && !connections.data)) return <Loading />;
  const byId = new Map((connections.data?.data ?? []).map((c) => [c.name, c.document]));
  const listed = sources.data?.data ?? (connections.data?.data ?? []).map((c) => ({ id: c.name, name: c.name }));
  return (
    <>
      <ErrorNote error={sources.error ?? connections.error} />
      {listed.length === 0 ? <Empty>No sources yet — create one on the Sources page.</Empty> : null}
      {listed.map((source) => (
        <ConnectionForm
          key={source.id}
          source={source}
          current={byId.get(source.id) ?? null}
          plans={(plans.data?.data ?? []).map((p) => p.name)}
          onSaved={connections.reload}
        />
      ))}
    </>
  );
}

function ConnectionForm({
  source,
  current,
  plans,
  onSaved,
}: {
  source: { id: string; name: string };
  current: Connection | null;
  plans: string[];
  onSaved: () => void;
}) {
  const canWrite = useCan("sources:write");
  const [plan, setPlan] = useState(current?.tracking_plan ?? "");
  const [controls, setControls] = useState<Record<string, string>>(current?.schema_controls ?? {});
  const [naming, setNaming] = useState(current?.naming ?? {});
  const [done, setDone] = useState("");
  useEffect(() => {
    setPlan(current?.tracking_plan ?? "");
    setControls(current?.schema_controls ?? {});
    setNaming(current?.naming ?? {});
  }, [current]);
  const named = (key: "events" | "properties" | "traits") => naming?.[key] ?? "";
  const setNamed = (key: string, value: string) => setNaming({ ...naming, [key]: value || null });
  return (
    <Card title={`Source: ${source.name}`}>
      <div className="form-grid">
        <label>
          Tracking plan of {source.name}
          <select disabled={!canWrite} value={plan} onChange={(e) => setPlan(e.target.value)}>
            <option value="">No plan (nothing checked)</option>
            {plans.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        {CONTROLS.map((control) => (
          <label key={control.key}>
            {control.label}
            <select
              disabled={!canWrite}
              value={controls[control.key] ?? "allow"}
              onChange={(e) => setControls({ ...controls, [control.key]: e.target.value })}
            >
              {control.options.map((o) => (
                <option key={o} value={o}>
                  {WORDS[o]}
                </option>
              ))}
            </select>
          </label>
        ))}
        {(["events", "properties", "traits"] as const).map((key) => (
          <label key={key}>
            Naming of {key}
            <select disabled={!canWrite} value={named(key)} onChange={(e) => setNamed(key, e.target.value)}>
              <option value="">No convention</option>
              {CASES.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
        ))}
        <label>
          When a name breaks the convention
          <select disabled={!canWrite} value={naming?.mode ?? "flag"} onChange={(e) => setNaming({ ...naming, mode: e.target.value })}>
            <option value="flag">Flag it (record a violation)</option>
            <option value="fix">Fix it (rename, and record)</option>
          </select>
        </label>
      </div>
      {canWrite ? (
        <div className="row">
          <ActionButton
            action={async () => {
              const hasNaming = named("events") || named("properties") || named("traits");
              await put(`/api/v1/source-connections/${encodeURIComponent(source.id)}`, {
                tracking_plan: plan || null,
                schema_controls: controls,
                naming: hasNaming ? naming : null,
              });
              setDone("Saved");
              onSaved();
            }}
          >
            Save connection of {source.name}
          </ActionButton>
          {done ? (
            <span role="status" className="ok-note">
              {done}
            </span>
          ) : null}
        </div>
      ) : null}
    </Card>
  );
}
