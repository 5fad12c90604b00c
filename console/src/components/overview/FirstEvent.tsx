// What a workspace with no events yet shows: how to send the first one.
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { useCanCreateSource } from "../sources/access";
import { CopyButton } from "../sources/CopyButton";
import { curlLine } from "../sources/snippets";
import type { SourceView } from "../sources/types";
import { Card } from "../ui";

export function FirstEvent() {
  const { data } = useGet<{ data: SourceView[] }>("/api/v1/sources");
  const canCreate = useCanCreateSource();
  const source = (data?.data ?? []).find((s) => s.enabled);
  const key = source && !source.write_key_masked ? source.write_key : "YOUR_WRITE_KEY";
  const line = curlLine(location.origin, key);
  return (
    <Card title="Send your first event">
      {source ? (
        <>
          <p>
            No events yet. Send one to <strong>{source.name}</strong> from a terminal, then watch it arrive here and in
            the <Link to="/debugger">live debugger</Link>:
          </p>
          <pre className="snippet" aria-label="First event with curl" tabIndex={0}>
            {line}
          </pre>
          <div className="row">
            <CopyButton text={line} label="Copy the curl line" />
            <Link to={`/sources/${encodeURIComponent(source.id)}`}>SDK snippets for {source.name}</Link>
          </div>
        </>
      ) : (
        <p>
          No sources yet.{" "}
          {canCreate ? <Link to="/sources">Create a source</Link> : "Ask a source admin to create a source"}, then send
          your first event with its snippet.
        </p>
      )}
    </Card>
  );
}
