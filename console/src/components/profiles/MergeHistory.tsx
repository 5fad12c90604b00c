// The merges that built a profile: a graph, and a list with an Unmerge button per merge for
// users who may change identities (the server checks identity:write too).
import { lazy, Suspense } from "react";
import { post } from "../../api";
import { useGet } from "../../hooks";
import { Can } from "../../session";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { profilePath, unmergePath, type Merge } from "./profileApi";

const MergeGraph = lazy(() => import("./MergeGraph"));

export function MergeHistory({
  identifier,
  canonical,
  onUnmerged,
}: {
  identifier: string;
  canonical: string;
  onUnmerged: (split: { profile_id: string; split_from: string }) => void;
}) {
  const found = useGet<{ data: Merge[] }>(profilePath(identifier, "merges"));
  const merges = found.data?.data ?? [];
  return (
    <Card title="Merge history">
      {found.loading && !found.data ? <Loading /> : null}
      <ErrorNote error={found.error} />
      {found.data && merges.length === 0 ? (
        <Empty>This profile was never merged with another: all its identifiers arrived together.</Empty>
      ) : null}
      {merges.length > 0 ? (
        <>
          <Suspense fallback={<Loading what="Drawing the graph" />}>
            <MergeGraph merges={merges} current={canonical} />
          </Suspense>
          <table aria-label="Merges">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">How</th>
                <th scope="col">Linked by</th>
                <th scope="col">Caused by message</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {merges.map((merge) => (
                <tr key={merge.merge_id}>
                  <td>
                    <Time at={merge.merged_at} />
                  </td>
                  <td>
                    <MergeKind merge={merge} />
                  </td>
                  <td className="mono">{merge.identifiers.join(", ")}</td>
                  <td className="mono small">{merge.message_id ?? "—"}</td>
                  <td>
                    <Can permission="identity:write">
                      <ActionButton
                        kind="danger"
                        aria-label={`Unmerge merge ${merge.merge_id}`}
                        confirm={`Split ${merge.from_profile} out of this profile again? The two are never merged again.`}
                        action={async () => {
                          const split = await post<{ profile_id: string; split_from: string }>(
                            unmergePath(merge.merge_id),
                          );
                          found.reload();
                          onUnmerged(split);
                        }}
                      >
                        Unmerge
                      </ActionButton>
                    </Can>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </Card>
  );
}

/** Whether a shared identifier, the probabilistic matcher (with its probability) or a person
 * merged the two profiles. */
function MergeKind({ merge }: { merge: Merge }) {
  const score = typeof merge.score === "number" ? ` ${(merge.score * 100).toFixed(1)}%` : "";
  if (merge.kind === "probabilistic") return <Badge tone="warn">{`probabilistic${score}`}</Badge>;
  // A person accepted a matching proposal: the score is the matcher's probability.
  if (merge.kind === "manual") return <Badge>{`accepted match${score}`}</Badge>;
  return <span className="muted small">same identifier</span>;
}
