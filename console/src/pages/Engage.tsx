// Engage: audiences and computed traits, with their size; the audience builder and the
// computed-trait form, each with a live estimate and its text form; save, compute, members.
import { useState } from "react";
import { ApiError, post } from "../api";
import "../components/engage/engage.css";
import { ConditionBuilder } from "../components/engage/ConditionBuilder";
import { DefinitionList, type Summary } from "../components/engage/DefinitionList";
import { EstimatePanel, useEstimate, type Collection } from "../components/engage/Estimate";
import { Members } from "../components/engage/Members";
import { conditionDoc, emptyAudience, emptyTrait, traitDoc, type Node, type TraitDraft } from "../components/engage/model";
import { TraitForm } from "../components/engage/TraitForm";
import { ActionButton, Card, Page, Tabs } from "../components/ui";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Can } from "../session";

type Tab = "audiences" | "traits";
const TABS = [
  { id: "audiences", label: "Audiences" },
  { id: "traits", label: "Computed traits" },
] as const;

export default function Engage(_props: PageProps) {
  const [tab, setTab] = useState<Tab>("audiences");
  return (
    <Page title="Engage">
      <Tabs tabs={TABS} current={tab} onChange={setTab} label="Engage" />
      {tab === "audiences" ? <Audiences /> : <ComputedTraits />}
    </Page>
  );
}

function Audiences() {
  const listed = useGet<{ data: Summary[] }>("/api/v1/audiences");
  const [tree, setTree] = useState<Node>(emptyAudience);
  const [showing, setShowing] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [note, setNote] = useState<string | null>(null);
  const definition = { condition: conditionDoc(tree) };
  return (
    <>
      <DefinitionList
        collection="audiences"
        listed={listed}
        onMembers={setShowing}
        onComputed={(key, size) => {
          setNote(`Computed ${key}: ${size.toLocaleString()} members.`);
          setVersion((n) => n + 1);
        }}
      />
      {note ? (
        <p className="notice" role="status">
          {note}
        </p>
      ) : null}
      {showing ? <Members audience={showing} version={version} /> : null}
      <Editor
        collection="audiences"
        title="Build an audience"
        noun="people"
        definition={definition}
        onSaved={(key, size) => {
          listed.reload();
          setShowing(key);
          setVersion((n) => n + 1);
          setNote(`Saved ${key} and computed it over all history: ${size.toLocaleString()} members.`);
        }}
      >
        <ConditionBuilder tree={tree} onChange={setTree} />
      </Editor>
    </>
  );
}

function ComputedTraits() {
  const listed = useGet<{ data: Summary[] }>("/api/v1/computed-traits");
  const [draft, setDraft] = useState<TraitDraft>(emptyTrait);
  const [note, setNote] = useState<string | null>(null);
  return (
    <>
      <DefinitionList
        collection="computed-traits"
        listed={listed}
        onMembers={null}
        onComputed={(key, size) => setNote(`Computed ${key}: ${size.toLocaleString()} profiles have a value.`)}
      />
      {note ? (
        <p className="notice" role="status">
          {note}
        </p>
      ) : null}
      <Editor
        collection="computed-traits"
        title="Define a computed trait"
        noun="profiles with a value"
        definition={traitDoc(draft)}
        onSaved={(key, size) => {
          listed.reload();
          setNote(`Saved ${key} and computed it over all history: ${size.toLocaleString()} profiles have a value.`);
        }}
      >
        <TraitForm draft={draft} onChange={setDraft} />
      </Editor>
    </>
  );
}

/** A key, the definition's form (children) beside its live estimate, and Save. */
function Editor({
  collection,
  title,
  noun,
  definition,
  onSaved,
  children,
}: {
  collection: Collection;
  title: string;
  noun: string;
  definition: unknown;
  onSaved: (key: string, size: number) => void;
  children: React.ReactNode;
}) {
  const [key, setKey] = useState("");
  // The estimate needs a valid key; a draft without one is estimated under a stand-in.
  const estimate = useEstimate(collection, /^[a-z][a-z0-9_]*$/.test(key) ? key : "draft", definition);
  return (
    <Card title={title}>
      <label className="key-input">
        Key (lower-case letters, digits and _; it becomes the trait name on profiles)
        <input value={key} placeholder="repeat_pro_buyers" onChange={(e) => setKey(e.target.value.trim())} />
      </label>
      <div className="editor">
        {children}
        <EstimatePanel estimate={estimate} noun={noun} />
      </div>
      <details>
        <summary className="small">The definition as JSON (for the API or seamline apply)</summary>
        <pre className="json">{JSON.stringify(definition, null, 2)}</pre>
      </details>
      <Can permission="engage:write">
        <div>
          <ActionButton
            action={async () => {
              if (!key) throw new ApiError(400, "invalid_input", "Give it a key first.");
              const saved = await post<{ key: string; size: number }>(`/api/v1/${collection}`, { key, definition });
              onSaved(saved.key, saved.size);
            }}
          >
            Save and compute
          </ActionButton>
        </div>
      </Can>
    </Card>
  );
}
