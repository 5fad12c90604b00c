// The live size estimate of a draft definition: asked again half a second after the last edit,
// with a sample of members (each links to the profile) and the definition's text form.
import { useEffect, useState } from "react";
import { ApiError, post } from "../../api";
import { Link } from "../../router";
import { profileLink } from "../profiles/profileApi";
import { ErrorNote } from "../ui";

export type Collection = "audiences" | "computed-traits";

export interface Estimated {
  key: string;
  text: string;
  size: number;
  sample: string[];
  took_ms: number;
}

const DEBOUNCE_MS = 500;

export function useEstimate(collection: Collection, key: string, definition: unknown) {
  const body = JSON.stringify({ key, definition });
  const [found, setFound] = useState<Estimated | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let stale = false;
    const timer = setTimeout(() => {
      setBusy(true);
      post<Estimated>(`/api/v1/${collection}/estimate`, JSON.parse(body))
        .then((answer) => {
          if (stale) return;
          setFound(answer);
          setError(null);
        })
        .catch((failed: unknown) => {
          if (stale) return;
          setError(failed instanceof ApiError ? failed : new ApiError(0, "error", String(failed)));
        })
        .finally(() => {
          if (!stale) setBusy(false);
        });
    }, DEBOUNCE_MS);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [collection, body]);
  return { found, error, busy };
}

export function EstimatePanel({
  estimate,
  noun,
}: {
  estimate: ReturnType<typeof useEstimate>;
  noun: string;
}) {
  const { found, error, busy } = estimate;
  return (
    <aside className="estimate" aria-label="Estimate" aria-busy={busy}>
      <h3>In words</h3>
      {error && error.code === "invalid_input" ? (
        // Usually a draft not finished yet: say what is missing, in the server's words.
        <p className="incomplete" aria-live="polite">
          Not complete yet: {error.message}
        </p>
      ) : error ? (
        <ErrorNote error={error} />
      ) : (
        <p className="definition-text" data-testid="definition-text">
          {found?.text ?? "Fill in the conditions to see them in words."}
        </p>
      )}
      <h3>Estimated size</h3>
      <p>
        <span className="stat" data-testid="estimate-size">
          {error || !found ? "—" : found.size.toLocaleString()}
        </span>{" "}
        {noun}
        {busy ? <span className="muted small"> (updating…)</span> : null}
      </p>
      {found && !error && found.sample.length > 0 ? (
        <>
          <h3>Sample</h3>
          <ul className="sample" aria-label="Sample members">
            {found.sample.map((pid) => (
              <li key={pid}>
                <Link to={profileLink(pid)} className="mono small">
                  {pid}
                </Link>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </aside>
  );
}
