// Sources: every source the user may read, and (for who may create one) the create form.
import { useCanCreateSource } from "../components/sources/access";
import { CreateSource } from "../components/sources/CreateSource";
import { SourceStatus } from "../components/sources/SourceSettings";
import type { SourceView } from "../components/sources/types";
import "../components/sources/sources.css";
import { Card, Empty, ErrorNote, Loading, Page, Time } from "../components/ui";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link } from "../router";

export default function Sources(_props: PageProps) {
  const { data, error, loading } = useGet<{ data: SourceView[] }>("/api/v1/sources");
  const canCreate = useCanCreateSource();
  const sources = data?.data ?? [];
  return (
    <Page title="Sources">
      {canCreate ? <CreateSource /> : null}
      <Card title="All sources">
        <ErrorNote error={error} />
        {data === undefined ? (
          loading ? <Loading what="Loading sources" /> : null
        ) : sources.length === 0 ? (
          <Empty>
            {canCreate
              ? "No sources yet — create one above, then install its snippet."
              : "No sources you can see yet. A source admin can create one."}
          </Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Write key</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sources.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link to={`/sources/${encodeURIComponent(s.id)}`}>{s.name}</Link>
                  </td>
                  <td>
                    <SourceStatus enabled={s.enabled} />
                  </td>
                  <td>
                    <code>{s.write_key}</code>
                  </td>
                  <td>
                    <Time at={s.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}
