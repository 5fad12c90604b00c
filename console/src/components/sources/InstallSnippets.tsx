// The install snippets for one source: a tab per SDK, this server's origin and the write key
// filled in, and a copy button.
import { useState } from "react";
import { Card, Tabs } from "../ui";
import { CopyButton } from "./CopyButton";
import { SNIPPETS, type SnippetId } from "./snippets";

export function InstallSnippets({ writeKey, masked }: { writeKey: string; masked: boolean }) {
  const [current, setCurrent] = useState<SnippetId>("next");
  const snippet = SNIPPETS.find((s) => s.id === current) ?? SNIPPETS[0];
  const key = masked ? "YOUR_WRITE_KEY" : writeKey;
  const code = snippet.code(location.origin, key);
  return (
    <Card title="Install">
      <p className="muted small">
        Send events to this source from your site or servers. Each snippet already holds this server's address (
        <code>{location.origin}</code>){masked ? " — ask a source admin for the write key" : " and the write key"}.
      </p>
      <Tabs label="SDK" tabs={SNIPPETS.map((s) => ({ id: s.id, label: s.label }))} current={current} onChange={setCurrent} />
      <p className="small">{snippet.intro}</p>
      <pre className="snippet" aria-label={`${snippet.label} snippet`} tabIndex={0}>
        {code}
      </pre>
      <div className="row">
        <CopyButton text={code} label={`Copy ${snippet.label} snippet`} />
      </div>
    </Card>
  );
}
