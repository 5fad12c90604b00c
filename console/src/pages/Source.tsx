// One source: its write key, settings (rename, disable), install snippets and schema.
import { useEffect, useState } from "react";
import { canChangeSource } from "../components/sources/access";
import { InstallSnippets } from "../components/sources/InstallSnippets";
import { SchemaView } from "../components/sources/SchemaView";
import { SourceSettings, SourceStatus } from "../components/sources/SourceSettings";
import { sourcePath, type SourceView } from "../components/sources/types";
import { WriteKey } from "../components/sources/WriteKey";
import "../components/sources/sources.css";
import { ErrorNote, Loading, Page } from "../components/ui";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link, useLocation } from "../router";

export default function Source({ params }: PageProps) {
  const id = params.id ?? "";
  const { data, error } = useGet<{ data: SourceView }>(sourcePath(id));
  const [source, setSource] = useState<SourceView | undefined>(undefined);
  const created = useLocation().params.get("created") === "1";
  useEffect(() => setSource(data?.data), [data]);
  if (error)
    return (
      <Page title="Source">
        <ErrorNote error={error} />
        <p>
          <Link to="/sources">Back to sources</Link>
        </p>
      </Page>
    );
  if (source === undefined) return <Loading what="Loading the source" />;
  return (
    <Page
      title={source.name}
      actions={
        <span className="row">
          <SourceStatus enabled={source.enabled} />
          <Link to="/sources">All sources</Link>
        </span>
      }
    >
      {created ? (
        <p className="notice" role="status">
          Source created. Copy a snippet below to start sending events.
        </p>
      ) : null}
      <div className="grid">
        <WriteKey source={source} onChanged={setSource} />
        {canChangeSource(source) ? <SourceSettings key={source.id} source={source} onChanged={setSource} /> : null}
      </div>
      <InstallSnippets writeKey={source.write_key} masked={source.write_key_masked} />
      <SchemaView sourceId={source.id} />
    </Page>
  );
}
