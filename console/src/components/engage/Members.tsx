// An audience's members, a page at a time, each linking to the profile.
import { useEffect, useState } from "react";
import { get } from "../../api";
import { profileLink } from "../profiles/profileApi";
import { Link } from "../../router";
import { Card, Empty, ErrorNote, Loading } from "../ui";

const PAGE = 50;

interface Page {
  members: string[];
  next: string | null;
}

export function Members({ audience, version }: { audience: string; version: number }) {
  const [after, setAfter] = useState<string[]>([""]); // the cursor of each page seen, for Back
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(null);
  const cursor = after[after.length - 1] ?? "";
  useEffect(() => setAfter([""]), [audience, version]);
  useEffect(() => {
    let stale = false;
    get<Page>(`/api/v1/audiences/${encodeURIComponent(audience)}/members?limit=${PAGE}&after=${encodeURIComponent(cursor)}`)
      .then((found) => {
        if (!stale) {
          setPage(found);
          setError(null);
        }
      })
      .catch((failed: unknown) => !stale && setError(failed));
    return () => {
      stale = true;
    };
  }, [audience, cursor, version]);
  return (
    <Card title={`Members of ${audience}`}>
      <ErrorNote error={error} />
      {!page && !error ? <Loading /> : null}
      {page && page.members.length === 0 ? (
        <Empty>Nobody is in this audience yet. Compute it to fill it from history.</Empty>
      ) : null}
      {page && page.members.length > 0 ? (
        <ul className="members" aria-label={`Members of ${audience}`}>
          {page.members.map((pid) => (
            <li key={pid}>
              <Link to={profileLink(pid)} className="mono">
                {pid}
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="row">
        {after.length > 1 ? (
          <button type="button" className="button secondary" onClick={() => setAfter(after.slice(0, -1))}>
            Previous page
          </button>
        ) : null}
        {page?.next ? (
          <button type="button" className="button secondary" onClick={() => setAfter([...after, page.next ?? ""])}>
            Next page
          </button>
        ) : null}
      </div>
    </Card>
  );
}
